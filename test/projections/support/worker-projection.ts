/**
 * The projection a worker process (worker-script.ts) runs: like counts per post, audited.
 * Besides `like_counts`, `applied_events` holds one row per event applied, with how many
 * times it was (`times`, which must stay 1), which worker and partition applied it, and
 * `seq`, the order of application (a sequence is taken in apply order, and one
 * transaction at a time applies a partition's events). read-model.ts reads them back.
 */
import { defineProjection, type Projection } from 'annals';
import { sql } from 'kysely';
import { likeEvents } from '../../../domain/likes/likes.events.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';
import { printLine } from './worker-lines.js';
import type { ResolvedWorkerSettings } from './worker-settings.js';

export interface WorkerProjection {
  readonly projection: Projection<typeof likeEvents>;
  /** To call from the runner's onBatch: HOLD_AFTER_APPLIED counts from the last commit. */
  batchCommitted(batch: { partition: number; events: number }): void;
}

/** The audited like counts as `settings` configure them; `workerId` names the rows' worker. */
export function workerProjection(settings: ResolvedWorkerSettings, workerId: () => string): WorkerProjection {
  // For HOLD_AFTER_APPLIED, per partition: a batch of events committed, and the events
  // applied since the last commit. A partition's batches run one at a time.
  const committed = new Set<number>();
  const sinceCommit = new Map<number, number>();

  const projection = defineProjection({
    name: settings.name,
    version: settings.version,
    events: likeEvents,
    partitions: settings.partitions,
    ...(settings.category ? { categories: [settings.category] } : {}),
    schema: async (db) => {
      await likeCounts.definition.schema(db);
      await db.schema
        .createTable('applied_events')
        .addColumn('event_id', 'uuid', (c) => c.primaryKey())
        .addColumn('seq', 'bigserial', (c) => c.notNull())
        .addColumn('global_position', 'bigint', (c) => c.notNull())
        .addColumn('stream_id', 'text', (c) => c.notNull())
        .addColumn('stream_version', 'integer', (c) => c.notNull())
        .addColumn('partition', 'integer', (c) => c.notNull())
        .addColumn('worker', 'text', (c) => c.notNull())
        .addColumn('times', 'integer', (c) => c.notNull())
        .addColumn('applied_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
        .execute();
    },
    apply: async (event, { db, partition }) => {
      const delta = event.type === 'LikeCreated' ? settings.likeWeight : -settings.likeWeight;
      await db
        .insertInto('like_counts')
        .values({ post_id: event.data.postId, likes: delta })
        .onConflict((oc) => oc.column('post_id').doUpdateSet({ likes: sql`like_counts.likes + ${delta}` }))
        .execute();
      // An upsert, not a plain insert: an event applied twice must show as times = 2, not
      // as a unique violation that the runner would retry and dead-letter out of sight.
      await db
        .insertInto('applied_events')
        .values({
          event_id: event.id,
          global_position: event.globalPosition.toString(),
          stream_id: event.streamId,
          stream_version: event.version,
          partition,
          worker: workerId(),
          times: 1,
        })
        .onConflict((oc) => oc.column('event_id').doUpdateSet({ times: sql`applied_events.times + 1` }))
        .execute();
      if (settings.traceApplied) printLine('applied', { position: event.globalPosition, partition });
      if (settings.applyDelayMs > 0) await sql`SELECT pg_sleep(${settings.applyDelayMs / 1000})`.execute(db);
      sinceCommit.set(partition, (sinceCommit.get(partition) ?? 0) + 1);
      if (settings.holdAfterApplied > 0 && committed.has(partition) && sinceCommit.get(partition)! >= settings.holdAfterApplied) {
        printLine('holding', { position: event.globalPosition, partition });
        await new Promise(() => {});
      }
    },
  });

  return {
    projection,
    batchCommitted: (batch) => {
      if (batch.events > 0) committed.add(batch.partition);
      sinceCommit.set(batch.partition, 0);
    },
  };
}
