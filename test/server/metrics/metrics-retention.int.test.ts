import { describe, expect, it } from 'vitest';
import { defineRetention, runRetention, setupProjection, startRetention, type EventStore } from '../../../src/index.js';
import { retentionRunMetrics } from '../../../src/server/metrics/retention-metrics.js';
import { createTestStore, eventually } from '../../setup/database.js';
import { counted, tallyProjection } from '../../support/tally.js';
import { startService } from '../support/http.js';
import { scrape, valueOf } from './support/scrape.js';

// Retention on /metrics (docs/retention.md, "Where it stands"): what was removed, read from
// the database at scrape time; what a job in this process left waiting, set by its runs.

const store: EventStore = await createTestStore('metrics_retention');
const schema = 'type Query { ok: Boolean }';
const fresh = { storeFiguresMaxAgeMs: 0, processMetrics: false };

describe('retention figures on /metrics', () => {
  // Catches: a removed count not read from the table (a run by another process unseen),
  // a waiting gauge never set (the hook not wired to the service's registry).
  it('shows the events removed per category, by any process, and what the last run here left waiting', async () => {
    const service = await startService({ store, schema, metrics: fresh });
    const before = await scrape(service.url);
    expect(valueOf(before, 'annals_retention_removed_events_total', { category: 'old' })).toBeUndefined();

    // Removed by "another process": a run not connected to the service.
    await store.appendToStream('old-1', [counted('a'), counted('b'), counted('c')], { expectedVersion: 'no_stream' });
    await runRetention(store, defineRetention({ categories: { old: { maxCount: 1 } } }));
    const removed = await scrape(service.url);
    expect(valueOf(removed, 'annals_retention_removed_events_total', { category: 'old' })).toBe(2);
    expect(valueOf(removed, 'annals_retention_last_removed_timestamp_seconds', { category: 'old' })).toBeGreaterThan(Date.now() / 1000 - 600);

    // A projection that is behind holds new expired events back: the job here says how many wait.
    await setupProjection(store, tallyProjection({ name: 'metrics-tally' }));
    await store.appendToStream('old-1', [counted('d'), counted('e')], { expectedVersion: 3 });
    const runner = startRetention(store, defineRetention({ categories: { old: { maxCount: 1 } }, runEveryMs: 1000 }), { onRun: retentionRunMetrics(service.app) });
    try {
      await eventually(async () => {
        const scraped = await scrape(service.url);
        expect(valueOf(scraped, 'annals_retention_runs_total')).toBeGreaterThanOrEqual(1);
        expect(valueOf(scraped, 'annals_retention_waiting_events', { category: 'old' })).toBe(2);
      });
    } finally {
      await runner.stop();
    }
  });
});
