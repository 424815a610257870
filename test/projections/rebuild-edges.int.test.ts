/**
 * Edges of a rebuild found in review (issue 10): a switch that meets a reader of the old
 * views, and a version that handles a type the live one never did.
 */
import { randomUUID } from 'node:crypto';
import { catchUpProjections, defineProjection, readSchemaOf, startRebuild, type EventStore, type EventStoreTransaction } from 'annals';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { likeEvents } from '../../domain/likes/likes.events.js';
import * as leases from '../../src/consumers/leases.js';
import { switchToRebuild } from '../../src/projections/rebuild.js';
import { createTestStore, testDatabaseUrl } from '../setup/database.js';

const store: EventStore = await createTestStore('rebuild_edges');
const tx = <T>(work: (t: EventStoreTransaction) => Promise<T>) => store.withTransaction(work, { appends: false });

/** Counts likes (and removals when `removals`), recording each event it sees fresh. */
function counter(name: string, version: number, removals: boolean, fresh: string[] = []) {
  return defineProjection({
    name,
    version,
    events: (removals ? likeEvents : { LikeCreated: likeEvents.LikeCreated }) as typeof likeEvents,
    categories: [name],
    schema: async (db) => {
      await db.schema.createTable('counts').addColumn('post_id', 'text', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute();
    },
    apply: async (event, context) => {
      if (!context.replaying) fresh.push(`${event.type}@${event.data.postId}`);
      const delta = event.type === 'LikeCreated' ? 1 : -1;
      await context.query(`INSERT INTO counts VALUES ($1, $2) ON CONFLICT (post_id) DO UPDATE SET n = counts.n + $2`, [event.data.postId, delta]);
    },
  });
}

const append = (name: string, type: 'LikeCreated' | 'LikeRemoved', postId: string) =>
  store.appendToStream(`${name}-${postId}`, [{ type, data: { postId, userId: randomUUID() }, ...(type === 'LikeCreated' ? { schemaVersion: 2 } : {}) }]);

describe('the switch to a rebuild', () => {
  it('gives up within its lock timeout while a report reads the old views, without holding up lease renewals', async () => {
    const name = `locked_${randomUUID().slice(0, 6)}`;
    const other = counter(`other_${randomUUID().slice(0, 6)}`, 1, true);
    const v1 = counter(name, 1, true);
    await catchUpProjections(store, [v1, other]);
    const worker = 'renewing-worker';
    await tx((t) => leases.claimPartitions(t, { consumer: other.name, generations: [1], limit: 1, workerId: worker, ttlMs: 60_000 }));
    await tx((t) => leases.claimPartitions(t, { consumer: v1.name, generations: [1], limit: 1, workerId: worker, ttlMs: 60_000 }));
    await startRebuild(store, v1);
    await tx((t) => t.query(`UPDATE "${store.schema}".consumer_partitions SET caught_up = true WHERE consumer = $1`, [name]));
    const reader = new pg.Client({ connectionString: testDatabaseUrl });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query(`SELECT * FROM "${readSchemaOf(store.schema, v1)}".counts`);
      const switching = switchToRebuild(store, v1, false).then(
        () => 'switched',
        (error: unknown) => (error as { code?: string }).code,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The switch waits on the reader, holding the projection's partition rows: the
      // worker's renewal (its other projection among them) goes on all the same.
      const renewed = await tx((t) => leases.renewLeases(t, worker, 60_000));
      expect(new Set(renewed.map((p) => p.consumer))).toEqual(new Set([name, other.name]));
      expect(await switching).toBe('55P03');
    } finally {
      await reader.query('ROLLBACK');
      await reader.end();
    }
    expect(await switchToRebuild(store, v1, false)).toMatchObject({ generation: 2 });
  });
});

describe('a rebuild whose version handles a type the live one never did', () => {
  it('treats those events as history up to its creation and as fresh after, like a new projection', async () => {
    const name = `newtype_${randomUUID().slice(0, 6)}`; // a category: no dash
    await catchUpProjections(store, [counter(name, 1, false)]);
    await append(name, 'LikeCreated', 'a');
    await append(name, 'LikeRemoved', 'a'); // before the rebuild: the live version never saw it
    await catchUpProjections(store, [counter(name, 1, false)]);
    const fresh: string[] = [];
    const v2 = counter(name, 2, true, fresh);
    await startRebuild(store, v2);
    await append(name, 'LikeRemoved', 'b'); // after the rebuild was created: news to everyone
    // The old code's worker moves its checkpoint past it (it skips removals).
    await catchUpProjections(store, [counter(name, 1, false)]);
    await catchUpProjections(store, [v2]);
    expect(fresh).toEqual(['LikeRemoved@b']);
  });
});
