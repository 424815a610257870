import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PositionWatch, type Probe } from '../../src/consumers/position-watch.js';
import { readPartitions } from '../../src/consumers/partitions.js';
import { defineConsumer, runConsumers, type EventStore } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('position_watch');

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A probe of one consumer's checkpoint against `position`, counting its calls. */
function checkpointProbe(consumer: string, position: bigint): { probe: Probe; calls(): number } {
  let calls = 0;
  return {
    calls: () => calls,
    probe: async (round) => {
      calls++;
      const partitions = await round.memo(`partitions:${consumer}`, () => readPartitions(round.tx, [{ consumer, generation: 1 }]));
      const reached = partitions.length > 0 && partitions.every((p) => p.position >= position);
      return reached ? { kind: 'reached' } : { kind: 'behind', behind: `${consumer} behind`, consumers: [consumer] };
    },
  };
}

function consumerOf(category: string) {
  return defineConsumer({ name: `watched-${randomUUID().slice(0, 8)}`, categories: [category], handle: async () => {} });
}

describe('a position watch', () => {
  // Catches: a busy poll (the probe run over and over while nothing changes), and waiting
  // that depends on the poll rather than on the checkpoint's notification.
  it('looks again when a checkpoint moves, not on a busy poll', async () => {
    const watch = new PositionWatch(store, { pollIntervalMs: 120_000 });
    onTestFinished(() => watch.close());
    const category = `w${randomUUID().slice(0, 6)}`;
    const consumer = consumerOf(category);
    const { lastGlobalPosition } = await store.appendToStream(`${category}-1`, [{ type: 'Noted', data: {} }]);
    const { probe, calls } = checkpointProbe(consumer.name, lastGlobalPosition);
    const waiting = watch.wait(lastGlobalPosition, probe, { timeoutMs: 60_000, timeoutError: () => new Error('timed out') });
    await settle(1500);
    // Once on arrival; nothing changed since (no worker runs), so no more.
    expect(calls()).toBe(1);
    expect(watch.listening).toBe(true);
    const runner = runConsumers(store, [consumer]);
    onTestFinished(() => runner.stop());
    await waiting;
    // The poll is two minutes, past the test's timeout: the checkpoint's notification woke it.
    expect(watch.waiting).toBe(0);
  });

  it('shares its reads between the waiters of a round, and times out with what it last found', async () => {
    const watch = new PositionWatch(store, { pollIntervalMs: 200 });
    onTestFinished(() => watch.close());
    const category = `w${randomUUID().slice(0, 6)}`;
    const consumer = consumerOf(category);
    const { lastGlobalPosition } = await store.appendToStream(`${category}-1`, [{ type: 'Noted', data: {} }]);
    let reads = 0;
    const probe: Probe = async (round) => {
      await round.memo('shared', async () => reads++);
      return { kind: 'behind', behind: 'still behind', consumers: [consumer.name] };
    };
    const errors = await Promise.all(
      Array.from({ length: 20 }, () =>
        watch
          .wait(lastGlobalPosition, probe, { timeoutMs: 1000, timeoutError: (last) => new Error(`timed out: ${last?.behind ?? 'never probed'}`) })
          .catch((e: unknown) => e as Error),
      ),
    );
    expect(errors.map((e) => (e as Error).message)).toEqual(Array.from({ length: 20 }, () => 'timed out: still behind'));
    // About one read per round (200 ms polls in one second), not one per waiter.
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(20);
  });

  it('rejects every waiter of a round with a database fault rather than a timeout', async () => {
    const watch = new PositionWatch(store);
    onTestFinished(() => watch.close());
    const fault = new Error('connection terminated');
    const probe: Probe = async () => {
      throw fault;
    };
    const settings = { timeoutMs: 30_000, timeoutError: () => new Error('timed out') };
    const waits = [watch.wait(1n, probe, settings), watch.wait(2n, probe, settings)];
    for (const wait of waits) await expect(wait).rejects.toBe(fault);
  });
});
