import { afterEach, describe, expect, it } from 'vitest';
import { BatchFault, type ConsumerClient } from '../../src/consumers/consumer-client.js';
import { ConsumerEngine } from '../../src/consumers/consumer-engine.js';
import { lockConsumer } from '../../src/consumers/lock-consumer.js';
import { silent } from '../../src/consumers/engine-options.js';
import { ensurePartitions } from '../../src/consumers/partitions.js';
import type { EventStore, RecordedEvent } from '../../src/index.js';
import { createTestStore, eventually } from '../setup/database.js';

// An at-least-once client with `readAhead` (the outbox relay) gets its next page read,
// with its `prepare`, while it handles the current one. Each batch must still start at
// the checkpoint its predecessor moved to: never a page read ahead after a batch that
// did not move it there.

const store: EventStore = await createTestStore('consumers_read_ahead');
const engines: ConsumerEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop()));
});

interface Recorder {
  /** Positions of each batch handled to its end, in the order handled. */
  handled: bigint[][];
  /** Positions of each page prepared, in the order prepared. */
  prepared: bigint[][];
}

/** A client of one partition reading `category` in pages of `limit`; `handle` may throw or wait before recording. */
function readingAhead(
  name: string,
  category: string,
  limit: number,
  recorder: Recorder,
  before: (events: RecordedEvent[], batch: number) => Promise<void> = async () => {},
): ConsumerClient {
  let batches = 0;
  return {
    name,
    version: 1,
    categories: [category],
    mode: 'at-least-once',
    readAhead: true,
    setup: () =>
      store.withTransaction(
        async (tx) => {
          await lockConsumer(tx, name);
          await ensurePartitions(tx, { consumer: name, generation: 1, partitions: 1, position: 0n });
        },
        { appends: false },
      ),
    claimable: async () => [1],
    plan: async () => ({ limit, replaying: false }),
    select: (event) => event,
    prepare: async (_tx, events) => {
      const positions = events.map((event) => event.globalPosition);
      recorder.prepared.push(positions);
      return positions;
    },
    handle: async ({ events, prepared }) => {
      await before(events, ++batches);
      // Each page comes with what prepare found for that page, not for another.
      expect(prepared).toEqual(events.map((event) => event.globalPosition));
      recorder.handled.push(events.map((event) => event.globalPosition));
    },
  };
}

function start(client: ConsumerClient): ConsumerEngine {
  const engine = new ConsumerEngine(store, [client], { retries: { attempts: 3, minDelayMs: 1, maxDelayMs: 5 }, onFailure: 'stop', noun: 'test consumer', logger: silent });
  engines.push(engine);
  return engine;
}

async function appendNumbered(category: string, count: number): Promise<bigint[]> {
  const positions: bigint[] = [];
  for (let i = 0; i < count; i++) {
    const { lastGlobalPosition: position } = await store.appendToStream(`${category}-${i % 3}`, [{ type: 'Numbered', data: { i } }]);
    positions.push(position);
  }
  return positions;
}

describe('reading ahead', () => {
  // Catches: no read ahead at all (each batch would wait for its own read), a page
  // handed with another page's prepare, a page read ahead twice or skipped.
  it('reads each next page while the current one is handled, each with its own prepare', async () => {
    const appended = await appendNumbered('rah', 23);
    const recorder: Recorder = { handled: [], prepared: [] };
    const sawNextPage: boolean[] = [];
    start(
      readingAhead('read-ahead', 'rah', 5, recorder, async (events, batch) => {
        if (events.length < 5) return;
        // A full page: the next one is read ahead, before this batch returns.
        const waited = Date.now();
        while (recorder.prepared.length <= batch && Date.now() - waited < 10_000) await new Promise((resolve) => setTimeout(resolve, 5));
        sawNextPage.push(recorder.prepared.length > batch);
      }),
    );

    await eventually(async () => expect(recorder.handled.flat()).toEqual(appended), 20_000);
    // Empty batches may follow once caught up (a poll moves the checkpoint to the head).
    expect(recorder.handled.map((page) => page.length).filter((length) => length > 0)).toEqual([5, 5, 5, 5, 3]);
    expect(sawNextPage).toEqual([true, true, true, true]);
    expect(recorder.prepared.flat()).toEqual(appended);
  });

  // Catches: the page read ahead used after a batch that failed with a database fault
  // (the next batch would start past events not yet handled, and its fence would fail).
  it('drops the page read ahead when a batch fails, and handles that batch again first', async () => {
    const appended = await appendNumbered('raf', 17);
    const recorder: Recorder = { handled: [], prepared: [] };
    start(
      readingAhead('read-ahead-fault', 'raf', 4, recorder, async (_events, batch) => {
        if (batch === 2) throw new BatchFault(new Error('connection reset'));
      }),
    );

    await eventually(async () => expect(recorder.handled.flat()).toEqual(appended), 20_000);
  });
});
