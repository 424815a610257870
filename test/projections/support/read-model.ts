/**
 * What the crash tests (test/projections/crash) read back and append: the audited
 * like-counts read model that support/worker-projection.ts defines, the checkpoints and
 * owners of its partitions, the fold of the log it should equal, and the likes appended.
 */
import { defineProjection, readSchemaOf, type EventStore } from 'annals';
import { likeEvents } from '../../../domain/likes/likes.events.js';

/** Where the read views of the projection named `name` live for a store in `storeSchema`. */
export function readSchema(storeSchema: string, name: string): string {
  // readSchemaOf only looks at the name and readSchema; any definition with this name will do.
  return readSchemaOf(storeSchema, defineProjection({ name, version: 1, events: likeEvents, schema: async () => {}, apply: async () => {} }));
}

export interface AppliedEvent {
  event_id: string;
  seq: number;
  global_position: string;
  stream_id: string;
  stream_version: number;
  partition: number;
  worker: string;
  times: number;
  applied_at: Date;
}

/** The live read model through its views: counts per post and the audit of applied events. */
export async function readModel(store: EventStore, name: string): Promise<{ counts: Record<string, number>; applied: AppliedEvent[] }> {
  const schema = readSchema(store.schema, name);
  return store.withTransaction(async (tx) => {
    const counts = await tx.query<{ post_id: string; likes: number }>(`SELECT post_id, likes FROM "${schema}".like_counts`);
    const applied = await tx.query<AppliedEvent>(
      `SELECT event_id, seq::int AS seq, global_position::text AS global_position, stream_id, stream_version, partition, worker, times, applied_at
         FROM "${schema}".applied_events ORDER BY seq`,
    );
    return { counts: Object.fromEntries(counts.map((row) => [row.post_id, row.likes])), applied };
  });
}

/**
 * The fold of the committed log of `category`, straight from the events table (no
 * visibility bound: the tests call it once every writer has finished): the like count of
 * each post, and the ids of the events.
 */
export async function foldOfLog(store: EventStore, category: string): Promise<{ counts: Record<string, number>; eventIds: string[]; head: bigint }> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ event_id: string; type: string; post_id: string; global_position: string }>(
      `SELECT event_id, type, data->>'postId' AS post_id, global_position::text AS global_position
         FROM "${tx.schema}".events WHERE category = $1 ORDER BY global_position`,
      [category],
    ),
  );
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.post_id] = (counts[row.post_id] ?? 0) + (row.type === 'LikeCreated' ? 1 : -1);
  return { counts, eventIds: rows.map((row) => row.event_id).sort(), head: BigInt(rows.at(-1)?.global_position ?? 0) };
}

export interface PartitionRow {
  generation: number;
  partition: number;
  position: bigint;
  owner: string | null;
  status: string;
  version: number;
}

/** The checkpoints and owners of a projection's partitions, every generation. */
export async function partitionsOf(store: EventStore, name: string): Promise<PartitionRow[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ generation: number; partition: number; position: string; owner: string | null; status: string; version: number }>(
      `SELECT p.generation, p.partition, p.position::text AS position, p.owner, g.status, g.version
         FROM "${tx.schema}".consumer_partitions p
         JOIN "${tx.schema}".projection_generations g ON g.projection = p.consumer AND g.generation = p.generation
        WHERE p.consumer = $1 ORDER BY p.generation, p.partition`,
      [name],
    ),
  );
  return rows.map((row) => ({ ...row, position: BigInt(row.position) }));
}

/** Random likes and unlikes on `posts` posts of `category`, appended in streams of a few events. */
export function likesFor(category: string, posts: number, count: number, salt = ''): { streamId: string; events: { type: string; data: { postId: string; userId: string }; schemaVersion?: number }[] }[] {
  const streams = new Map<string, { type: string; data: { postId: string; userId: string }; schemaVersion?: number }[]>();
  for (let i = 0; i < count; i++) {
    const post = `p${i % posts}`;
    const streamId = `${category}-${post}`;
    const events = streams.get(streamId) ?? [];
    // Every fifth round over the posts is of unlikes: a read model that applied events
    // twice or missed some shows it in the counts, not only in the audit table.
    const event = Math.floor(i / posts) % 5 === 4 ? { type: 'LikeRemoved', data: { postId: post, userId: `u${salt}${i}` } } : { type: 'LikeCreated', data: { postId: post, userId: `u${salt}${i}` }, schemaVersion: 2 };
    events.push(event);
    streams.set(streamId, events);
  }
  return [...streams].map(([streamId, events]) => ({ streamId, events }));
}
