import { describe, expect, it } from 'vitest';
import { defineRetention, startRetention } from '../../src/index.js';
import { createTestStore, eventually } from '../setup/database.js';
import { counted } from '../support/tally.js';

// startRetention: the job as the service runs it, now and every runEveryMs.

const store = await createTestStore('retention_runner');

describe('startRetention', () => {
  it('runs at once and again every runEveryMs, logging what it removed, until stopped', async () => {
    const lines: { level: string; message: string; details: object }[] = [];
    const log = (level: string) => (details: object, message: string) => void lines.push({ level, message, details });
    const runner = startRetention(store, defineRetention({ categories: { tick: { maxCount: 1 } }, runEveryMs: 1000 }), {
      logger: { info: log('info'), warn: log('warn'), error: log('error') },
    });
    await runner.ready;
    await store.appendToStream('tick-1', [counted('a'), counted('b'), counted('c')], { expectedVersion: 'no_stream' });
    await eventually(async () => expect((await store.readStream('tick-1')).map((e) => e.version)).toEqual([3]), 10_000);
    // That run is over once it has logged: a run still going could remove the next event
    // too (it reads on until nothing is left), and there would be one line for both.
    const removals = () => lines.filter((line) => line.message === 'retention removed expired events').length;
    await eventually(async () => expect(removals()).toBe(1), 10_000);
    await store.appendToStream('tick-1', [counted('d')], { expectedVersion: 3 });
    await eventually(async () => expect((await store.readStream('tick-1')).map((e) => e.version)).toEqual([4]), 10_000);
    await runner.stop();
    expect(removals()).toBeGreaterThanOrEqual(2);
    // Stopped: nothing more is removed.
    await store.appendToStream('tick-1', [counted('e')], { expectedVersion: 4 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await store.readStream('tick-1')).map((e) => e.version)).toEqual([4, 5]);
  });
});
