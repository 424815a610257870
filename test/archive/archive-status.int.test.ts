import { describe, expect, it } from 'vitest';
import { archiveEvents, archiveStatus, restoreArchive, type EventStore } from '../../src/index.js';
import { statusCommand } from '../../src/cli/status-command.js';
import { createTestStore } from '../setup/database.js';
import { startService } from '../server/support/http.js';
import { scrape, valueOf } from '../server/metrics/support/scrape.js';

// Where the archive stands, in `annals status` and on /metrics: read from the database,
// so an archive run by another process (the CLI) shows in the service.

const store: EventStore = await createTestStore('archive_status');

describe('archive figures', () => {
  // Catches: a section shown for a store that never archived, figures not read from the
  // database (a run elsewhere unseen), a gauge left at its last value after a restore.
  it('show in annals status and on /metrics once something is archived, and follow a restore', async () => {
    const service = await startService({ store, schema: 'type Query { ok: Boolean }', metrics: { storeFiguresMaxAgeMs: 0, processMetrics: false } });
    await store.appendToStream('cart-1', Array.from({ length: 6 }, (_, i) => ({ type: 'Added', data: { i, note: 'x'.repeat(200) } })));
    const positions = (await store.readStream('cart-1')).map((event) => event.globalPosition);

    // Nothing archived yet: no archive section, and the gauges say so.
    expect(await statusCommand(store, [], { json: false })).not.toContain('archive:');
    expect(JSON.parse(await statusCommand(store, [], { json: true }))).not.toHaveProperty('archive');
    const before = await scrape(service.url);
    expect(valueOf(before, 'annals_archive_events')).toBe(0);
    expect(valueOf(before, 'annals_archive_position')).toBe(0);
    expect(valueOf(before, 'annals_archive_last_timestamp_seconds')).toBeUndefined();
    expect(valueOf(before, 'annals_archive_read_errors_total')).toBe(0);

    await archiveEvents(store, { through: positions[3]! });
    const status = await archiveStatus(store);
    expect(status).toMatchObject({ archivedThrough: positions[3], archivedEvents: 4 });
    expect(status.archiveBytes).toBeGreaterThan(0);

    const text = await statusCommand(store, [], { json: false });
    expect(text).toContain(`\n\narchive: 4 event(s) through position ${positions[3]}, `);
    expect(text).toMatch(/, \d+(\.\d)? (B|KiB|MiB) on disk, last at \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(text).toContain(`last at ${status.lastArchivedAt!.toISOString()}`);
    expect(JSON.parse(await statusCommand(store, [], { json: true })).archive).toEqual({
      archivedThrough: positions[3]!.toString(),
      archivedEvents: 4,
      archiveBytes: status.archiveBytes,
      lastArchivedAt: status.lastArchivedAt!.toISOString(),
    });

    const archived = await scrape(service.url);
    expect(valueOf(archived, 'annals_archive_events')).toBe(4);
    expect(valueOf(archived, 'annals_archive_position')).toBe(Number(positions[3]));
    expect(valueOf(archived, 'annals_archive_bytes')).toBe(status.archiveBytes);
    expect(valueOf(archived, 'annals_archive_last_timestamp_seconds')).toBeCloseTo(status.lastArchivedAt!.getTime() / 1000, 3);
    expect(valueOf(archived, 'annals_archive_figures_age_seconds')).toBeGreaterThanOrEqual(0);

    // Everything back in the log: the section goes, the gauges fall back to 0.
    await restoreArchive(store);
    expect(await statusCommand(store, [], { json: false })).not.toContain('archive:');
    const restored = await scrape(service.url);
    expect(valueOf(restored, 'annals_archive_events')).toBe(0);
    expect(valueOf(restored, 'annals_archive_position')).toBe(0);
  });

  it('reads no archive figures with storeFigures off', async () => {
    const service = await startService({ store, schema: 'type Query { ok: Boolean }', metrics: { storeFigures: false, processMetrics: false } });
    expect((await scrape(service.url)).text).not.toContain('annals_archive_');
  });
});
