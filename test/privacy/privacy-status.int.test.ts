import { describe, expect, it } from 'vitest';
import { forget, privacyStatus, type EventStore } from '../../src/index.js';
import { statusCommand } from '../../src/cli/status-command.js';
import { createTestStore } from '../setup/database.js';
import { startService } from '../server/support/http.js';
import { scrape, valueOf } from '../server/metrics/support/scrape.js';

// Erasures performed, in `annals status` and on /metrics (issue 16, section 5): read from
// the database, so a forget run by another process (the CLI) shows in the service.

const store: EventStore = await createTestStore('privacy_status');

const withEmail = (subject: string) => ({ type: 'EmailChanged', data: { subject, email: `${subject}@example.com` }, personal: [{ subject, fields: ['email'] }] });

describe('personal data figures', () => {
  it('count subjects and erasures, in privacyStatus, annals status and /metrics', async () => {
    const service = await startService({ store, schema: 'type Query { ok: Boolean }', metrics: { storeFiguresMaxAgeMs: 0, processMetrics: false } });
    expect(await privacyStatus(store)).toEqual({ subjects: 0, erasures: 0, lastErasureAt: null });
    // Nothing personal yet: the status has no such section.
    expect(await statusCommand(store, [], { json: false })).not.toContain('personal data');
    const empty = await scrape(service.url);
    expect(valueOf(empty, 'annals_privacy_erasures_total')).toBe(0);
    // Never erased: no timestamp at all, rather than 1970.
    expect(valueOf(empty, 'annals_privacy_last_erasure_timestamp_seconds')).toBeUndefined();

    await store.appendToStream('user-u1', [withEmail('u1')]);
    await store.appendToStream('user-u2', [withEmail('u2'), withEmail('u2')]);
    await store.appendToStream('group-g1', [withEmail('u1')]);
    expect(await privacyStatus(store)).toMatchObject({ subjects: 2, erasures: 0 });

    await forget(store, 'u1');
    await forget(store, 'u2');
    const status = await privacyStatus(store);
    expect(status).toMatchObject({ subjects: 2, erasures: 2 });
    expect(status.lastErasureAt!.getTime()).toBeGreaterThan(Date.now() - 600_000);
    expect(await statusCommand(store, [], { json: false })).toContain('personal data: 2 data subject(s); 2 erasure(s) performed, the last at ');
    expect(JSON.parse(await statusCommand(store, [], { json: true })).privacy).toMatchObject({ subjects: 2, erasures: 2 });

    const scraped = await scrape(service.url);
    expect(valueOf(scraped, 'annals_privacy_erasures_total')).toBe(2);
    expect(valueOf(scraped, 'annals_privacy_subjects')).toBe(2);
    expect(valueOf(scraped, 'annals_privacy_last_erasure_timestamp_seconds')).toBeCloseTo(status.lastErasureAt!.getTime() / 1000, 0);
  });
});
