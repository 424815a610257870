import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createEventStore, partitionOfKey, ValidationError, type EventStore, type RecordedEvent } from '../../src/index.js';
import { orderingKeyOf } from '../../src/outbox/routing.js';
import { writeMessage } from '../../src/outbox/write-message.js';
import { createTestStore } from '../setup/database.js';

// readAll's `partition` (migration 0014): Postgres computes partitionOfKey itself
// (annals_partition_of), so a consumer's partition reads only its own events. The SQL and
// the JavaScript must agree for every key: an event they place in different partitions
// would be read by one partition and dropped as another's by its code, and never handled.

/** Keys of every shape a stream id or an ordering key takes: ASCII, 2-, 3- and 4-byte UTF-8, long ones. */
function sampleKeys(): string[] {
  const alphabet = ['a', 'Z', '0', '-', '_', ':', '.', ' ', 'é', 'ß', 'Ω', 'ж', '中', '文', '€', '😀', '🎉', '\u00a0', '\u200b', '~', '\u007f'];
  const keys = ['a', 'post-1', 'order-42', 'x'.repeat(200), '😀'.repeat(50), `post-${'é'.repeat(99)}`];
  for (let i = 0; i < 2_000; i++) {
    const length = randomInt(1, 40);
    keys.push(Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join(''));
  }
  for (let i = 0; i < 500; i++) keys.push(`post-${randomBytes(8).toString('hex')}`);
  return keys;
}

async function sqlPartitions(store: EventStore, keys: readonly string[], count: number): Promise<number[]> {
  return store.withTransaction(async (tx) => {
    const rows = await tx.query<{ partition: number }>(
      `SELECT ${tx.schema}.annals_partition_of(k, $2::integer) AS partition FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n`,
      [keys, count],
    );
    return rows.map((row) => row.partition);
  }, { appends: false });
}

const postgres = await createTestStore('log_partitions');
const pglite = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
await pglite.migrate();
afterAll(() => pglite.close());

describe.each([
  ['postgres', postgres],
  ['pglite', pglite],
])('annals_partition_of on %s', (_name, store) => {
  it('places every key where partitionOfKey does, for any partition count', async () => {
    const keys = sampleKeys();
    for (const count of [2, 3, 4, 7, 16, 100, 1024]) {
      const expected = keys.map((key) => partitionOfKey(key, count));
      expect(await sqlPartitions(store, keys, count)).toEqual(expected);
    }
  });
});

/** Events on `streams` streams of category `cat`, appended in an order that interleaves them. */
async function appendInterleaved(store: EventStore, prefix: string, streams: number, perStream: number): Promise<void> {
  for (let round = 0; round < perStream; round++) {
    for (let s = 0; s < streams; s++) {
      await store.appendToStream(`${prefix}-${s}`, [{ type: 'Noted', data: { round, s } }], { expectedVersion: 'any' });
    }
  }
}

describe.each([
  ['postgres', postgres],
  ['pglite', pglite],
])('readAll with a partition on %s', (_name, store) => {
  const prefix = `lp${randomBytes(3).toString('hex')}`;
  const categories = [prefix];

  it('returns exactly the events of the partition, in log order; the partitions together are the log', async () => {
    await appendInterleaved(store, prefix, 12, 5);
    const all = await store.readAll({ categories });
    expect(all).toHaveLength(60);
    const count = 4;
    const seen: RecordedEvent[] = [];
    for (let index = 0; index < count; index++) {
      const own = await store.readAll({ categories, partition: { index, count } });
      expect(own.map((e) => partitionOfKey(e.streamId, count))).toEqual(own.map(() => index));
      expect(own.map((e) => e.globalPosition)).toEqual([...own.map((e) => e.globalPosition)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      seen.push(...own);
    }
    expect(seen.map((e) => e.id).sort()).toEqual(all.map((e) => e.id).sort());
  });

  it('pages with after and limit within the partition (iterateAll too)', async () => {
    const partition = { index: 1, count: 3 };
    const own = await store.readAll({ categories, partition });
    expect(own.length).toBeGreaterThan(4);
    const first = await store.readAll({ categories, partition, limit: 3 });
    const rest = await store.readAll({ categories, partition, after: first.at(-1)!.globalPosition });
    expect([...first, ...rest].map((e) => e.id)).toEqual(own.map((e) => e.id));
    const iterated: string[] = [];
    for await (const event of store.iterateAll({ categories, partition, batchSize: 2 })) iterated.push(event.id);
    expect(iterated).toEqual(own.map((e) => e.id));
  });

  it('counts and reads committed events of the partition alike', async () => {
    const partition = { index: 2, count: 4 };
    const own = await store.readAll({ categories, partition });
    expect((await store.countEvents({ categories, partition })).count).toBe(own.length);
    expect((await store.readAllCommitted({ categories, partition })).map((e) => e.id)).toEqual(own.map((e) => e.id));
  });

  it('one partition of one is the whole log', async () => {
    expect(await store.readAll({ categories, partition: { index: 0, count: 1 } })).toEqual(await store.readAll({ categories }));
  });

  it("partitions a written message by its own key with key: 'ordering'", async () => {
    const keys = Array.from({ length: 8 }, (_, i) => `${prefix}w-${i}`);
    await store.withTransaction(async (tx) => {
      for (const key of keys) await writeMessage(tx, { destination: `${prefix}_dest`, key, type: 'note', payload: { key } });
    });
    const written = await store.readAll({ types: ['annals.outbox.message'], categories: ['outbox'] });
    const ours = written.filter((e) => keys.includes((e.data as { key: string }).key));
    expect(ours).toHaveLength(8);
    const count = 4;
    const byOrdering = new Map<string, number>();
    const byStream = new Map<string, number>();
    for (let index = 0; index < count; index++) {
      for (const event of await store.readAll({ categories: ['outbox', prefix], partition: { index, count, key: 'ordering' } })) byOrdering.set(event.id, index);
      for (const event of await store.readAll({ categories: ['outbox', prefix], partition: { index, count } })) byStream.set(event.id, index);
    }
    for (const event of ours) {
      expect(byOrdering.get(event.id)).toBe(partitionOfKey(orderingKeyOf(event), count));
      expect(byStream.get(event.id)).toBe(partitionOfKey(event.streamId, count));
    }
    // Other events keep their stream id as their ordering key.
    for (const event of await store.readAll({ categories })) expect(byOrdering.get(event.id)).toBe(partitionOfKey(event.streamId, count));
  });

  it('refuses a partition that is not one, naming the field', async () => {
    const refused = async (partition: unknown) => {
      const error = await store.readAll({ partition } as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).issues.map((issue) => `${issue.field}: ${issue.reason}`);
    };
    expect(await refused({ index: 4, count: 4 })).toEqual(['options.partition.index: must be below count (partitions are numbered from 0)']);
    expect(await refused({ index: 0, count: 0 })).toEqual(['options.partition.count: must be >= 1']);
    expect(await refused({ index: 0, count: 2000 })).toEqual(['options.partition.count: must be at most 1024']);
    expect(await refused({ index: -1, count: 2 })).toEqual(['options.partition.index: must be >= 0']);
    expect(await refused({ index: 0.5, count: 2 })).toEqual(['options.partition.index: must be a whole number']);
    expect(await refused({ index: 0, count: 2, key: 'type' })).toEqual(["options.partition.key: must be 'stream' or 'ordering'"]);
    const countError = await store.countEvents({ partition: { index: 2, count: 2 } }).catch((e: unknown) => e);
    expect(countError).toBeInstanceOf(ValidationError);
  });
});
