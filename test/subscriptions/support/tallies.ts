/**
 * A projection of several partitions for the subscription tests: a tally per key, one
 * partition per key (partitionKey is the key), and an event that fails on demand, so a
 * test can stop one partition while the others run on.
 */
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { defineProjection, type EventStore } from '../../../src/index.js';
import { partitionOfKey } from '../../../src/consumers/partition-key.js';
import { graphqlPart } from '../../../src/graphql/graphql-part.js';
import { projectionSubscription } from '../../../src/server/subscriptions/projection-subscription.js';
import { unique } from './testbed.js';

interface TalliesTables {
  tallies: { key: string; count: number };
}

export const tallyPartitions = 4;

/** The projection's own category: other tests' tallies (a poisoned one) stay out of it. */
const categoryOf = (name: string) => name.replaceAll('-', '_');

/**
 * `version` differs between the generations of a rebuild; each tally adds `step`. Partitioned
 * by key, or by stream (the default key: then a key's tallies fall in several partitions).
 */
export function talliesProjection(name: string, version = 1, step = 1, partitionBy: 'key' | 'stream' = 'key') {
  return defineProjection({
    name,
    version,
    events: { Tallied: z.object({ key: z.string(), poison: z.boolean().optional() }) },
    categories: [categoryOf(name)],
    partitions: tallyPartitions,
    ...(partitionBy === 'key' ? { partitionKey: (event: { data: { key: string } }) => event.data.key } : {}),
    schema: async (db) => {
      await db.schema.createTable('tallies').addColumn('key', 'text', (c) => c.primaryKey()).addColumn('count', 'integer', (c) => c.notNull()).execute();
    },
    apply: async (event, { db }) => {
      if (event.data.poison) throw new Error(`poisoned tally of ${event.data.key}`);
      await db
        .insertInto('tallies')
        .values({ key: event.data.key, count: step })
        .onConflict((oc) => oc.column('key').doUpdateSet({ count: sql`tallies.count + ${step}` }))
        .execute();
    },
  });
}

export type Tallies = ReturnType<typeof talliesProjection>;

export function talliesSubscription(projection: Tallies) {
  return projectionSubscription({
    name: 'tallies-subscription',
    typeDefs: `
      type Tally { key: ID! count: Int! position: String! }
      extend type Subscription { tally(key: ID!, after: String): Tally! }`,
    field: 'tally',
    projection,
    args: z.object({ key: z.string().min(1) }),
    key: (args) => args.key,
    keyOf: (event) => event.data.key,
    read: (db: Kysely<TalliesTables>, keys) => db.selectFrom('tallies').selectAll().where('key', 'in', [...keys]).execute(),
    rowKey: (row) => row.key,
    payload: ({ key, row, position }) => ({ key, count: row?.count ?? 0, position }),
  });
}

/** A schema needs a query. */
export const health = graphqlPart({ name: 'health', typeDefs: 'extend type Query { ok: Boolean! }', resolvers: { Query: { ok: () => true } } });

export interface TallyPush {
  tally: { key: string; count: number; position: string };
}

export const tallySubscription = 'subscription($k: ID!, $a: String) { tally(key: $k, after: $a) { key count position } }';

/** Appends a tally of `key` for the projection named `projection` (a poisoned one fails to apply); its position. */
export async function tally(store: EventStore, projection: string, key: string, poison = false): Promise<bigint> {
  const data = poison ? { key, poison } : { key };
  const { lastGlobalPosition } = await store.appendToStream(`${categoryOf(projection)}-${unique('t')}`, [{ type: 'Tallied', data }]);
  return lastGlobalPosition;
}

/** Appends a tally of `key` on a stream of `partition` (projections partitioned by stream); its position. */
export async function tallyOnPartition(store: EventStore, projection: string, key: string, partition: number, poison = false): Promise<bigint> {
  let stream = `${categoryOf(projection)}-${unique('t')}`;
  while (partitionOfKey(stream, tallyPartitions) !== partition) stream = `${categoryOf(projection)}-${unique('t')}`;
  const data = poison ? { key, poison } : { key };
  const { lastGlobalPosition } = await store.appendToStream(stream, [{ type: 'Tallied', data }]);
  return lastGlobalPosition;
}

/** Keys of distinct partitions, one per partition asked for. */
export function keysInPartitions(count: number): string[] {
  const keys = new Map<number, string>();
  while (keys.size < count) {
    const key = unique('k');
    const partition = partitionOfKey(key, tallyPartitions);
    if (!keys.has(partition)) keys.set(partition, key);
  }
  return [...keys.values()];
}

/** Keys of one partition, not that of `apartFrom`. */
export function keysInOnePartition(count: number, apartFrom: string): string[] {
  let first = unique('k');
  while (partitionOfKey(first, tallyPartitions) === partitionOfKey(apartFrom, tallyPartitions)) first = unique('k');
  const keys = [first];
  while (keys.length < count) {
    const key = unique('k');
    if (partitionOfKey(key, tallyPartitions) === partitionOfKey(first, tallyPartitions)) keys.push(key);
  }
  return keys;
}
