import { randomUUID } from 'node:crypto';
import { defineProjection, readSchemaOf, type EventStore, type ProjectionContext } from 'annals';
import { likeEvents } from '../../../domain/likes/likes.events.js';

/**
 * A like-count projection over streams of its own category that records each event it
 * applies under a primary key: an event applied twice fails its handler (and would end
 * as a dead letter), so "no dead letters and one row per event" means exactly once.
 * `hook` runs before the write, in the batch's transaction: tests fail or stall it there.
 */
export function auditedLikes(options: {
  name: string;
  version?: number;
  partitions?: number;
  hook?: (event: { id: string; data: { postId: string } }, context: ProjectionContext) => Promise<void>;
}) {
  return defineProjection({
    name: options.name,
    version: options.version ?? 1,
    events: likeEvents,
    categories: [options.name.replaceAll('-', '_')],
    ...(options.partitions ? { partitions: options.partitions } : {}),
    schema: async (db) => {
      await db.schema.createTable('like_counts').addColumn('post_id', 'text', (c) => c.primaryKey()).addColumn('likes', 'integer', (c) => c.notNull()).execute();
      await db.schema.createTable('applied').addColumn('event_id', 'uuid', (c) => c.primaryKey()).execute();
    },
    apply: async (event, context) => {
      await options.hook?.(event, context);
      await context.query(`INSERT INTO applied (event_id) VALUES ($1)`, [event.id]);
      await context.query(
        `INSERT INTO like_counts (post_id, likes) VALUES ($1, 1) ON CONFLICT (post_id) DO UPDATE SET likes = like_counts.likes + 1`,
        [event.data.postId],
      );
    },
  });
}

export type AuditedLikes = ReturnType<typeof auditedLikes>;

/** Appends one like on `postId` in the projection's category; returns the event id. */
export async function like(store: EventStore, projection: AuditedLikes, postId: string = randomUUID()): Promise<string> {
  const category = projection.name.replaceAll('-', '_');
  const result = await store.appendToStream(`${category}-${postId}`, [{ type: 'LikeCreated', data: { postId, userId: randomUUID() }, schemaVersion: 2 }]);
  return result.eventIds[0]!;
}

/** Appends one like on each of `count` new posts, one append each; returns the post ids. */
export async function likeMany(store: EventStore, projection: AuditedLikes, count: number): Promise<string[]> {
  const posts: string[] = [];
  for (let i = 0; i < count; i++) {
    const postId = randomUUID();
    await like(store, projection, postId);
    posts.push(postId);
  }
  return posts;
}

export interface AuditedState {
  counts: Record<string, number>;
  applied: number;
  deadLetters: number;
  stopped: string[];
}

export async function auditedState(store: EventStore, projection: AuditedLikes): Promise<AuditedState> {
  const schema = readSchemaOf(store.schema, projection);
  return store.withTransaction(async (tx) => {
    const counts = await tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${schema}".like_counts`);
    const [applied] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".applied`);
    const [dead] = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${tx.schema}".consumer_dead_letters WHERE consumer = $1`,
      [projection.name],
    );
    const stopped = await tx.query<{ stopped_error: string }>(
      `SELECT stopped_error FROM "${tx.schema}".consumer_partitions WHERE consumer = $1 AND stopped_error IS NOT NULL`,
      [projection.name],
    );
    return {
      counts: Object.fromEntries(counts.map((row) => [row.post_id, row.likes])),
      applied: applied?.n ?? 0,
      deadLetters: dead?.n ?? 0,
      stopped: stopped.map((row) => row.stopped_error),
    };
  });
}
