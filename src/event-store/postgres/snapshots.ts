import { keySchemaOf, revealedStreamRows, rowsUnlessKeysRefused } from './personal.js';
import { sql } from 'kysely';
import { z } from 'zod';
import { StreamDeletedError, ValidationError } from '../../errors.js';
import type { Kysely } from 'kysely';
import type { EventStoreTables } from '../../database/tables.js';
import { forgottenStream } from '../../privacy/tombstones.js';
import type { ReadStreamFromSnapshotOptions, RecordedEvent, Snapshot, StreamFromSnapshot, WriteSnapshotOptions } from '../event-store.js';
import { jsonIssues, streamIdSchema } from '../validation.js';
import { parseInput } from '../../validation.js';
import { readSnapshotQuery, readStreamFromSnapshotQuery, toRecordedEvent, type EventRow } from './read-statements.js';
import type { Executor, SessionContext } from './session-context.js';

const readStreamFromSnapshotOptionsSchema = z.object(
  {
    snapshotVersion: z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be >= 1' }).max(2_147_483_647),
    limit: z.number().int().positive({ error: 'must be a positive whole number' }).optional(),
  },
  { error: 'must be an object { snapshotVersion, limit? }' },
);

const writeSnapshotOptionsSchema = z
  .object({ loadedVersion: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be >= 0' }).optional() }, { error: 'must be an object { loadedVersion? }' })
  .strict()
  .optional();

const snapshotSchema = z.object({
  snapshotVersion: z.number().int().min(1).max(2_147_483_647),
  streamVersion: z.number().int().min(1),
  state: z.unknown(),
});

export async function readSnapshot(session: SessionContext, streamId: string): Promise<Snapshot | null> {
  session.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const query = readSnapshotQuery(session.schema, id);
  session.prepare(query.sql);
  const [row] = (await session.executor.executeQuery(query)).rows;
  if (!row) return null;
  return { snapshotVersion: row.snapshot_version, streamVersion: Number(row.stream_version), state: row.state };
}

export async function readStreamFromSnapshot<E extends RecordedEvent = RecordedEvent>(
  session: SessionContext,
  streamId: string,
  options: ReadStreamFromSnapshotOptions,
): Promise<StreamFromSnapshot<E>> {
  session.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const { snapshotVersion, limit = 1000 } = parseInput(readStreamFromSnapshotOptionsSchema, options, 'options');
  const keySchema = keySchemaOf(session);
  const query = readStreamFromSnapshotQuery(session.schema, id, snapshotVersion, limit, keySchema);
  session.prepare(query.sql);
  const rows = await rowsUnlessKeysRefused(session, keySchema, session.executor.executeQuery(query));
  if (rows === undefined) return readStreamFromSnapshot(session, streamId, options);
  const first = rows[0];
  if (!first) return { snapshot: null, events: [], stream: null };
  if (first.deleted_at !== null) throw new StreamDeletedError(id);
  const snapshot =
    first.snapshot_stream_version === null
      ? null
      : { snapshotVersion, streamVersion: Number(first.snapshot_stream_version), state: first.snapshot_state };
  const events = first.global_position === null ? [] : await revealedStreamRows(session, keySchema, rows.map((row) => toRecordedEvent(row as EventRow) as E), rows);
  const stream = {
    version: Number(first.stream_current_version),
    truncateBefore: Number(first.truncate_before),
    historyStart: Number(first.history_start),
  };
  return { snapshot, events, stream };
}

export async function writeSnapshot(session: SessionContext, streamId: string, snapshot: Snapshot, options?: WriteSnapshotOptions): Promise<void> {
  session.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const checked = parseInput(snapshotSchema, snapshot, 'snapshot');
  const { loadedVersion = checked.streamVersion } = parseInput(writeSnapshotOptionsSchema, options, 'options') ?? {};
  // The checks an event's data gets (no bigint, no lone surrogate, nesting within
  // maxJsonDepth), so a bad state is a ValidationError, not a raw TypeError, 22P02 or
  // RangeError from JSON.stringify.
  const issues = checked.state === undefined ? [{ field: 'snapshot.state', reason: 'must be JSON data' }] : jsonIssues(checked.state, 'snapshot.state', false);
  if (issues.length > 0) throw new ValidationError(issues);
  const state = JSON.stringify(checked.state);
  const write = (db: Executor) => insertSnapshot(db, session.schema, id, checked, state);
  // A stream holding personal fields: the state holds them in plaintext. Not saved if one
  // of its subjects was forgotten after the stream was read for it (forget.ts drops the
  // snapshots it finds, and this one may have been built before). Under a lock on the
  // stream's personal_streams rows, which forget takes first: either forget waits for
  // this snapshot and then drops it, or this write sees forget's tombstone.
  if (!(await holdsPersonalFields(session.executor, session.schema, id, false))) return write(session.executor);
  const guarded = async (db: Executor) => {
    if (await forgottenSince(db, session.schema, id, loadedVersion)) return;
    await write(db);
  };
  if (session.inTransaction) return guarded(session.executor);
  await (session.executor as Kysely<EventStoreTables>).transaction().execute((tx) => guarded(tx));
}

/** Whether the stream holds any data subject's personal fields; `lock` (FOR SHARE) in a transaction. */
async function holdsPersonalFields(db: Executor, schema: string, streamId: string, lock: boolean): Promise<boolean> {
  const rows = await db
    .withSchema(schema)
    .selectFrom('personal_streams')
    .select('subject')
    .where('stream_id', '=', streamId)
    .$if(lock, (q) => q.forShare())
    .execute();
  return rows.length > 0;
}

/**
 * Whether a subject of the stream has a SubjectForgotten tombstone later in the log than
 * the stream's event at `version` (none at version 0: a state built from nothing).
 */
async function forgottenSince(db: Executor, schema: string, streamId: string, version: number): Promise<boolean> {
  await holdsPersonalFields(db, schema, streamId, true);
  const { rows } = await sql<{ found: number }>`
    SELECT 1 AS found FROM ${sql.id(schema, 'events_all')} t
     WHERE t.stream_id = ${forgottenStream}
       AND t.data->>'subject' IN (SELECT subject FROM ${sql.id(schema, 'personal_streams')} WHERE stream_id = ${streamId})
       AND t.global_position > (SELECT e.global_position FROM ${sql.id(schema, 'events_all')} e
                                 WHERE e.stream_id = ${streamId} AND e.stream_version = ${version}::bigint)
     LIMIT 1`.execute(db);
  return rows.length > 0;
}

/**
 * Only for a live stream that has reached that version. handleCommand writes its
 * snapshot after its append, in another round trip: a delete in between must not leave a
 * snapshot behind for the recreated stream to start from. FOR SHARE waits for a
 * concurrent delete to commit, then re-checks `deleted_at`.
 */
async function insertSnapshot(db: Executor, schema: string, id: string, checked: z.infer<typeof snapshotSchema>, state: string): Promise<void> {
  await db
    .withSchema(schema)
    .insertInto('snapshots')
    .columns(['stream_id', 'snapshot_version', 'stream_version', 'state'])
    .expression((eb) =>
      eb
        .selectFrom('streams')
        .select([
          'stream_id',
          sql<number>`${checked.snapshotVersion}::integer`.as('snapshot_version'),
          sql<string>`${checked.streamVersion}::bigint`.as('stream_version'),
          sql<unknown>`${state}::jsonb`.as('state'),
        ])
        .where('stream_id', '=', id)
        .where('deleted_at', 'is', null)
        .where('version', '>=', String(checked.streamVersion))
        .where(sql<boolean>`truncate_before <= ${checked.streamVersion}::bigint`)
        .forShare(),
    )
    .onConflict((oc) =>
      oc.column('stream_id').doUpdateSet({
        snapshot_version: sql`excluded.snapshot_version`,
        stream_version: sql`excluded.stream_version`,
        state: sql`excluded.state`,
        created_at: sql`now()`,
      })
        // A snapshot of another shape is always replaced; one of the same shape only by a later one.
        .where(
          sql<boolean>`snapshots.snapshot_version <> excluded.snapshot_version OR snapshots.stream_version < excluded.stream_version`,
        ),
    )
    .execute();
}
