import { AssertionError } from 'node:assert';
import { createEventStore, defineProjection, EventSchemaError, ProjectionSchemaError, ValidationError, type EventStore } from 'annals';
import { projectionSpec } from 'annals/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { likeEvents } from '../../domain/likes/likes.events.js';
import { accountBalances } from '../../projections/account-balances/account-balances.projection.js';
import { likeCounts } from '../../projections/like-counts/like-counts.projection.js';
import { likesPerHour } from '../../projections/likes-per-hour/likes-per-hour.projection.js';
import { notificationsProjection, type LikeNotification } from '../../projections/notifications/notifications.projection.js';
import { partitionOfKey } from '../../src/consumers/partition-key.js';
import { createTestStore } from '../setup/database.js';

// Every spec runs on both backends: what passes on PGlite must pass on Postgres.
const postgres = await createTestStore('projection_spec');
const pglite = createEventStore({ pglite: 'memory://' }, { schema: 'annals' });
afterAll(() => pglite.close());
await pglite.migrate();

const liked = (postId: string, userId: string, extra: { source?: 'web' | 'mobile' | 'api'; streamId?: string; recordedAt?: Date } = {}) => {
  const { source, ...placement } = extra;
  return { type: 'LikeCreated', data: { postId, userId, ...(source ? { source } : {}) }, ...placement } as const;
};
const unliked = (postId: string, userId: string, extra: { streamId?: string; recordedAt?: Date } = {}) =>
  ({ type: 'LikeRemoved', data: { postId, userId }, ...extra }) as const;

class SendFailed extends Error {
  constructor(readonly eventId: string) {
    super(`could not send the notification of ${eventId}`);
  }
}

/** The notifications projection, with what it sent (or a send that fails). */
function notifications(options: { failing?: boolean } = {}) {
  const sent: LikeNotification[] = [];
  const projection = notificationsProjection({
    send: async (notification) => {
      if (options.failing) throw new SendFailed(notification.eventId);
      sent.push(notification);
    },
  });
  return { projection, sent };
}

/** A test projection that keeps every event as its handler saw it, to check the spec's defaults. */
const seen = (partitions = 1) =>
  defineProjection({
    name: 'seen',
    version: 1,
    events: likeEvents,
    partitions,
    schema: (db) =>
      db.schema
        .createTable('seen')
        .addColumn('global_position', 'bigint', (c) => c.primaryKey())
        .addColumn('stream_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('id', 'uuid', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'timestamptz', (c) => c.notNull())
        .addColumn('replaying', 'boolean', (c) => c.notNull())
        .addColumn('partition', 'integer', (c) => c.notNull())
        .addColumn('metadata', 'jsonb', (c) => c.notNull())
        .execute(),
    apply: async (event, { db, replaying, partition }) => {
      await db
        .insertInto('seen')
        .values({
          global_position: event.globalPosition,
          stream_id: event.streamId,
          version: event.version,
          id: event.id,
          type: event.type,
          recorded_at: event.recordedAt,
          replaying,
          partition,
          metadata: JSON.stringify(event.metadata),
        })
        .execute();
    },
  });

/** Rows per table of the store's own schema: the spec must write none of them. */
async function storeTableCounts(store: EventStore): Promise<Record<string, number>> {
  return store.withTransaction(async (tx) => {
    const tables = await tx.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, [store.schema]);
    const counts: Record<string, number> = {};
    for (const { name } of tables) {
      const [row] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${store.schema}"."${name}"`);
      counts[name] = row!.n;
    }
    return counts;
  });
}

const specSchemas = (store: EventStore) =>
  store.withTransaction((tx) => tx.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'annals_spec_%'`));

describe.each([
  ['postgres', postgres],
  ['pglite', pglite],
] as const)('projectionSpec on %s', (_backend, store) => {
  const likeSpec = projectionSpec(likeCounts, { store });

  describe('given / when / then rows', () => {
    it('passes when the tables hold exactly the rows, in any order', async () => {
      await likeSpec
        .given([liked('p1', 'ada'), liked('p2', 'ada'), liked('p1', 'bob')])
        .when([unliked('p1', 'ada'), liked('p3', 'eve')])
        .thenRows('like_counts', [
          { post_id: 'p3', likes: 1 },
          { post_id: 'p1', likes: 1 },
          { post_id: 'p2', likes: 1 },
        ]);
      await likeSpec.when([liked('p1', 'ada'), unliked('p1', 'ada')]).thenRows('like_counts', [{ post_id: 'p1', likes: 0 }]);
    });

    it('fails with an AssertionError when the rows differ: a count, a missing row, an extra row', async () => {
      const when = likeSpec.given([liked('p1', 'ada')]).when([liked('p1', 'bob'), liked('p2', 'bob')]);
      await expect(when.thenRows('like_counts', [{ post_id: 'p1', likes: 2 }, { post_id: 'p2', likes: 1 }])).resolves.toBeUndefined();
      await expect(when.thenRows('like_counts', [{ post_id: 'p1', likes: 3 }, { post_id: 'p2', likes: 1 }])).rejects.toThrow(AssertionError);
      await expect(when.thenRows('like_counts', [{ post_id: 'p1', likes: 2 }])).rejects.toThrow(AssertionError);
      await expect(
        when.thenRows('like_counts', [{ post_id: 'p1', likes: 2 }, { post_id: 'p2', likes: 1 }, { post_id: 'p3', likes: 1 }]),
      ).rejects.toThrow(/table 'like_counts' of projection 'like-counts' does not hold the expected rows/);
      await expect(when.then(() => expect(1).toBe(2))).rejects.toThrow();
    });

    it('reads the tables in then(), inside the transaction', async () => {
      await likeSpec.given([liked('p1', 'ada')]).when([liked('p2', 'ada'), liked('p1', 'bob')]).then(async (read) => {
        expect(await read.rows('like_counts')).toEqual([
          { post_id: 'p1', likes: 2 },
          { post_id: 'p2', likes: 1 },
        ]);
        const [top] = await read.db.selectFrom('like_counts').select('post_id').orderBy('likes', 'desc').limit(1).execute();
        expect(top).toEqual({ post_id: 'p1' });
        expect(await read.query('SELECT sum(likes)::int AS total FROM like_counts')).toEqual([{ total: 3 }]);
      });
    });

    it('compares bigint columns alike on every backend, given as numbers or bigints', async () => {
      const account = { streamId: 'account-7' };
      const spec = projectionSpec(accountBalances, { store });
      const when = spec
        .given([{ type: 'AccountOpened', data: { accountId: '7', owner: 'ada' }, ...account }])
        .when([
          { type: 'MoneyDeposited', data: { amount: 900_000_000_000 }, ...account },
          { type: 'MoneyDeposited', data: { amount: 900_000_000_000 }, ...account },
          { type: 'MoneyWithdrawn', data: { amount: 1 }, ...account },
        ]);
      const row = { account_id: '7', owner: 'ada', status: 'open', version: 4 };
      await when.thenRows('account_balances', [{ ...row, balance: 1_799_999_999_999 }]);
      await when.thenRows('account_balances', [{ ...row, balance: 1_799_999_999_999n }]);
      await expect(when.thenRows('account_balances', [{ ...row, balance: 1_800_000_000_000 }])).rejects.toThrow(AssertionError);
      await when.then(async (read) => expect(await read.rows('account_balances')).toEqual([{ ...row, balance: 1_799_999_999_999n }]));
    });

    it('lets `await spec.when(…)` run the handlers for their errors alone', async () => {
      await likeSpec.when([liked('p1', 'ada')]);
      await expect(async () => await projectionSpec(likesPerHour, { store }).when([unliked('p1', 'ada')])).rejects.toThrow(/no like to take back/);
    });
  });

  describe('events go through the projection decoding, as a worker reads them', () => {
    it('upcasts an event stored in an older shape', async () => {
      await likeSpec
        .given([{ type: 'LikeCreated', schemaVersion: 1, data: { post: 'p1', userId: 'ada' } }])
        .when([liked('p1', 'bob')])
        .thenRows('like_counts', [{ post_id: 'p1', likes: 2 }]);
    });

    it('refuses a when-event its schema refuses: thrown by thenRows, matched by thenThrows', async () => {
      const when = likeSpec.given([liked('p1', 'ada')]).when([{ type: 'LikeCreated', data: { postId: '', userId: 'bob' } }]);
      await expect(when.thenRows('like_counts', [{ post_id: 'p1', likes: 1 }])).rejects.toThrow(EventSchemaError);
      await when.thenThrows(EventSchemaError, { type: 'LikeCreated', streamId: 'post-1', version: 2 });
      // An old event whose shape its upcaster cannot read.
      await likeSpec.when([{ type: 'LikeCreated', schemaVersion: 1, data: { postId: 'p1', userId: 'ada' } }]).thenThrows(EventSchemaError);
    });

    it('does not count a given-event the schema refuses as the refusal under test', async () => {
      const when = likeSpec.given([{ type: 'LikeRemoved', data: { postId: 'p1' } as never }]).when([liked('p1', 'ada')]);
      await expect(when.thenThrows(EventSchemaError)).rejects.toThrow(EventSchemaError);
    });
  });

  describe('a handler that refuses', () => {
    it('surfaces the error through thenThrows, with its fields', async () => {
      await projectionSpec(likesPerHour, { store })
        .given([liked('p1', 'ada')])
        .when([unliked('p1', 'bob')])
        .thenThrows(Error, { message: 'LikeRemoved of bob on p1 at 2: no like to take back' });
      const failing = notifications({ failing: true });
      await projectionSpec(failing.projection, { store })
        .when([liked('p1', 'ada', { streamId: 'post-p1' })])
        .thenThrows(SendFailed, { eventId: '00000000-0000-4000-8000-000000000001' });
    });

    it('surfaces an error of the database, and the store goes on', async () => {
      // A second event at position 1: the table's primary key refuses it (23505, unique_violation).
      const when = projectionSpec(seen(), { store }).given([liked('p1', 'ada')]).when([{ ...liked('p1', 'bob'), globalPosition: 1n }]);
      await when.thenThrows(Error, { code: '23505' });
      await expect(when.thenRows('seen', [])).rejects.toThrow(/duplicate key/);
      await likeSpec.when([liked('p1', 'ada')]).thenRows('like_counts', [{ post_id: 'p1', likes: 1 }]);
    });

    it('fails thenThrows with an AssertionError when nothing, or another error, is thrown', async () => {
      const spec = projectionSpec(likesPerHour, { store });
      await expect(spec.given([liked('p1', 'bob')]).when([unliked('p1', 'bob')]).thenThrows(Error)).rejects.toThrow(AssertionError);
      await expect(spec.when([unliked('p1', 'bob')]).thenThrows(SendFailed)).rejects.toThrow(/expected SendFailed .* got Error: LikeRemoved of bob/);
      await expect(spec.when([unliked('p1', 'bob')]).thenThrows(Error, { message: 'something else' })).rejects.toThrow(AssertionError);
    });

    it('names the projection and its version when its schema() fails, as a worker would', async () => {
      const broken = defineProjection({
        name: 'broken-schema',
        version: 3,
        events: likeEvents,
        schema: async (db) => {
          await db.schema.createTable('t').addColumn('n', 'integr' as 'integer').execute();
        },
        apply: async () => {},
      });
      const error = await projectionSpec(broken, { store })
        .when([liked('p1', 'ada')])
        .thenRows('t', [])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProjectionSchemaError);
      expect(error).toMatchObject({ code: 'ANNALS_PROJECTION_SCHEMA', projection: 'broken-schema', version: 3 });
      expect((error as Error).message).toMatch(/^projection 'broken-schema' v3: schema\(\) failed: .*"integr"/);
    });

    it('throws the handler error from thenRows and then', async () => {
      const when = projectionSpec(likesPerHour, { store }).when([unliked('p1', 'bob')]);
      await expect(when.thenRows('likes_per_hour', [])).rejects.toThrow(/no like to take back/);
      let asserted = false;
      await expect(when.then(() => void (asserted = true))).rejects.toThrow(/no like to take back/);
      expect(asserted).toBe(false);
    });
  });

  describe('defaults and delivery', () => {
    it('numbers the log: one stream by default, versions per stream, positions, ids and times in order', async () => {
      const at = new Date('2024-06-01T12:00:00.000Z');
      await projectionSpec(seen(), { store })
        .given([liked('p1', 'ada'), liked('p2', 'ada', { streamId: 'post-2', recordedAt: at })])
        .when([{ ...unliked('p1', 'ada'), metadata: { by: 'test' } }, liked('p1', 'bob', { streamId: 'post-2' })])
        .thenRows('seen', [
          { global_position: 1, stream_id: 'spec-1', version: 1, id: '00000000-0000-4000-8000-000000000001', type: 'LikeCreated', recorded_at: new Date('2025-01-01T00:00:00.000Z'), replaying: false, partition: 0, metadata: {} },
          { global_position: 2, stream_id: 'post-2', version: 1, id: '00000000-0000-4000-8000-000000000002', type: 'LikeCreated', recorded_at: at, replaying: false, partition: 0, metadata: {} },
          { global_position: 3, stream_id: 'spec-1', version: 2, id: '00000000-0000-4000-8000-000000000003', type: 'LikeRemoved', recorded_at: new Date('2024-06-01T12:00:01.000Z'), replaying: false, partition: 0, metadata: { by: 'test' } },
          { global_position: 4, stream_id: 'post-2', version: 2, id: '00000000-0000-4000-8000-000000000004', type: 'LikeCreated', recorded_at: new Date('2024-06-01T12:00:02.000Z'), replaying: false, partition: 0, metadata: {} },
        ]);
    });

    it('takes events read from a store as they are, and delivers one again', async () => {
      await store.appendToStream('account-r1', [
        { type: 'AccountOpened', data: { accountId: 'r1', owner: 'ada' } },
        { type: 'MoneyDeposited', data: { amount: 500 } },
        { type: 'MoneyWithdrawn', data: { amount: 200 } },
      ]);
      const events = await store.readAll({ categories: ['account'] });
      const spec = projectionSpec(accountBalances, { store });
      const balance = { account_id: 'r1', owner: 'ada', status: 'open', balance: 300, version: 3 };
      // The deposit again, with its id, version and position: the version guard skips it.
      await spec.given(events).when([events[1]!]).thenRows('account_balances', [balance]);
      // Another deposit of the same amount is a new event (a new id, version and position): it counts.
      await spec.given(events).when([{ type: 'MoneyDeposited', data: { amount: 500 }, streamId: 'account-r1' }]).thenRows('account_balances', [{ ...balance, balance: 800, version: 4 }]);
    });

    it('replays a step when told to: replaying set, replayBatch used, side effects skipped', async () => {
      const { projection, sent } = notifications();
      await projectionSpec(projection, { store })
        .given([liked('p1', 'ada'), liked('p1', 'bob')], { replaying: true })
        .when([liked('p1', 'eve')])
        .then(async (read) => expect((await read.rows<{ user_id: string }>('notifications')).map((row) => row.user_id)).toEqual(['ada', 'bob', 'eve']));
      expect(sent.map((n) => n.userId)).toEqual(['eve']);

      let replayed = 0;
      const counted = defineProjection({
        ...likeCounts.definition,
        replayBatch: (events, context) => {
          replayed += events.length;
          return likeCounts.definition.replayBatch!(events, context);
        },
      });
      await projectionSpec(counted, { store }).given([liked('p1', 'ada')], { replaying: true }).when([liked('p1', 'bob')]).thenRows('like_counts', [{ post_id: 'p1', likes: 2 }]);
      expect(replayed).toBe(1);
      await projectionSpec(counted, { store }).given([liked('p1', 'ada')]).when([liked('p1', 'bob')], { replaying: true }).thenRows('like_counts', [{ post_id: 'p1', likes: 2 }]);
      expect(replayed).toBe(2);
    });

    it('gives each partition its own batch, with its partition number', async () => {
      const streams = ['post-a', 'post-b', 'post-c', 'post-d', 'post-e'];
      await projectionSpec(seen(3), { store })
        .when(streams.map((streamId) => liked('p', 'ada', { streamId })))
        .then(async (read) => {
          const rows = await read.rows<{ stream_id: string; partition: number }>('seen');
          expect(rows.map((row) => [row.stream_id, row.partition])).toEqual(streams.map((streamId) => [streamId, partitionOfKey(streamId, 3)]));
          expect(new Set(rows.map((row) => row.partition)).size).toBeGreaterThan(1);
        });
    });
  });

  describe('bad input', () => {
    it('names an event type the projection does not handle', () => {
      expect(() => likeSpec.given([{ type: 'PostDeleted', data: {} } as never])).toThrow(
        "given[0].type: 'PostDeleted' is not an event type projection 'like-counts' handles (LikeCreated, LikeRemoved)",
      );
      expect(() => likeSpec.given([]).when([liked('p1', 'ada'), { type: 'AccountOpened', data: {} } as never])).toThrow(ValidationError);
    });

    it('names a stream of a category the projection does not read', () => {
      expect(() => likeSpec.when([liked('p1', 'ada', { streamId: 'user-ada' })])).toThrow(
        "when[0].streamId: stream 'user-ada' is in category 'user', which projection 'like-counts' does not read (post)",
      );
    });

    it('names a malformed event, and options that are not a spec’s', () => {
      expect(() => likeSpec.given([{ ...liked('p1', 'ada'), globalPosition: 3 } as never])).toThrow(ValidationError);
      expect(() => likeSpec.given([{ ...liked('p1', 'ada'), id: 'not-a-uuid' }])).toThrow('given[0].id: must be a UUID');
      expect(() => likeSpec.given([], { replay: true } as never)).toThrow(ValidationError);
      expect(() => projectionSpec(likeCounts, {} as never)).toThrow('options.store: must be an event store from createEventStore');
      expect(() => projectionSpec(likeCounts.definition as never, { store })).toThrow('projection: must be what defineProjection returns');
    });

    it('names an unknown table, listing the projection’s own', async () => {
      const when = projectionSpec(likesPerHour, { store }).when([liked('p1', 'ada')]);
      await expect(when.thenRows('like_counts', [])).rejects.toThrow(
        "table: 'like_counts' is not a table of projection 'likes-per-hour' (its tables: like_sources, likes_per_hour, post_likes_per_hour)",
      );
      await expect(when.then((read) => read.rows('nope'))).rejects.toThrow(ValidationError);
    });

    it('names a column a row leaves out or does not have', async () => {
      const when = likeSpec.when([liked('p1', 'ada')]);
      await expect(when.thenRows('like_counts', [{ post_id: 'p1' }])).rejects.toThrow("rows[0]: leaves out column 'likes'");
      await expect(when.thenRows('like_counts', [{ post_id: 'p1', likes: 1, liked: 1 }])).rejects.toThrow("rows[0].liked: 'liked' is not a column of like_counts");
    });
  });

  it('leaves nothing behind, writes nothing of the runtime, and runs specs in parallel', async () => {
    await store.appendToStream('post-x', [{ type: 'LikeCreated', data: { postId: 'x', userId: 'ada' } }]);
    const before = await storeTableCounts(store);
    expect(before.events).toBeGreaterThan(0);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 === 0
          ? likeSpec.given([liked('p1', 'ada')]).when([liked('p1', `u${i}`)]).thenRows('like_counts', [{ post_id: 'p1', likes: 2 }])
          : projectionSpec(likesPerHour, { store }).when([unliked('p1', `u${i}`)]).thenThrows(Error),
      ),
    );
    await expect(likeSpec.when([liked('p1', 'ada')]).thenRows('like_counts', [])).rejects.toThrow(AssertionError);
    expect(await storeTableCounts(store)).toEqual(before);
    expect(await specSchemas(store)).toEqual([]);
  });
});
