import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CheckpointNotifier } from '../../src/consumers/checkpoint-notifier.js';
import { defineConsumer, runConsumers, type EventStore } from '../../src/index.js';
import { createTestStore } from '../setup/database.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('checkpoint_notify');

/** Counts what subscribeToAppends hears on this store's channel. */
async function listen(): Promise<{ count(): number }> {
  let heard = 0;
  const subscription = await store.subscribeToAppends(() => heard++);
  onTestFinished(() => subscription.close());
  return { count: () => heard };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('checkpoint notifications', () => {
  // Catches: checkpoint notices on a channel the store does not listen on (waiters would
  // then hear nothing and fall back to their poll).
  it("go on the channel subscribeToAppends listens on, with nothing appended", async () => {
    const heard = await listen();
    const notifier = new CheckpointNotifier(store);
    notifier.notify();
    await notifier.settle();
    await expect.poll(heard.count, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
  });

  // Catches: no notification after a batch commits (a waiter would wait for its poll), a
  // notification before the commit (a waiter would look too early and wait again), and a
  // loop: workers hear their own notification and run one more batch, which must send nothing.
  it('are sent once a batch that handled events has committed, and not by the empty batch that follows', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const handling = new Promise<void>((resolve) => (entered = resolve));
    const category = `note${randomUUID().slice(0, 6)}`;
    const consumer = defineConsumer({
      name: `notify-${randomUUID().slice(0, 8)}`,
      categories: [category],
      handle: async (events) => {
        if (events.length === 0) return;
        entered();
        await released;
      },
    });
    const runner = runConsumers(store, [consumer], { pollIntervalMs: 60_000 });
    onTestFinished(() => runner.stop());
    onTestFinished(() => release());
    await runner.ready;
    const heard = await listen();
    await store.appendToStream(`${category}-1`, [{ type: 'Noted', data: {} }]);
    await handling;
    await expect.poll(heard.count, { timeout: 10_000 }).toBe(1); // the append's
    await settle(300);
    expect(heard.count()).toBe(1); // nothing while the batch is held
    release();
    await expect.poll(heard.count, { timeout: 10_000 }).toBe(2); // the checkpoint's
    await settle(1000);
    expect(heard.count()).toBe(2);
  });

  it('are sent when an event is dead-lettered, and when a partition stops', async () => {
    const heard = await listen();
    for (const onFailure of ['dead-letter', 'stop'] as const) {
      const category = `fail${randomUUID().slice(0, 6)}`;
      const consumer = defineConsumer({
        name: `failing-${randomUUID().slice(0, 8)}`,
        categories: [category],
        handle: async (events) => {
          if (events.length > 0) throw new Error('refused');
        },
      });
      const runner = runConsumers(store, [consumer], { pollIntervalMs: 60_000, onFailure, retries: { attempts: 1 } });
      onTestFinished(() => runner.stop());
      await runner.ready;
      await settle(200);
      const before = heard.count();
      await store.appendToStream(`${category}-1`, [{ type: 'Noted', data: {} }]);
      // The append's notification, then the dead letter's or the stop's.
      await expect.poll(heard.count, { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 2);
      await runner.stop();
    }
  });
});
