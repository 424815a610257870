import { keySchemaOf, revealed, revealedStreamRows, rowsUnlessKeysRefused } from './personal.js';
import { logBranches } from './log-branches.js';
import { bothSides } from './log-sides.js';
import { CompiledQuery } from 'kysely';
import { z } from 'zod';
import { StreamDeletedError } from '../../errors.js';
import type {
  LogHoldback,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamInfo,
} from '../event-store.js';
import { eventIdsSchema, readAllOptionsSchema } from '../read-options.js';
import { streamIdSchema } from '../validation.js';
import { parseInput } from '../../validation.js';
import { appenderKey, logAheadError, logHoldbackText, readBound } from './log-bound.js';
import { partitionCondition } from './log-partition.js';
import { readStreamQuery, toRecordedEvent, type EventRow } from './read-statements.js';
import { anyOf, type Executor, type SessionContext } from './session-context.js';

export const versionSchema = z.number().int({ error: 'must be a whole number' }).min(0, { error: 'must be >= 0' });
const readStreamOptionsSchema = z
  .object({
    fromVersion: versionSchema.optional(),
    toVersion: versionSchema.optional(),
    direction: z.enum(['forward', 'backward']).optional(),
    limit: z.number().int().positive({ error: 'must be a positive whole number' }).optional(),
  })
  .optional();

/**
 * The columns an event is read with, named rather than `*`: reads run as prepared
 * statements, and Postgres refuses to run one whose result columns changed ("cached plan
 * must not change result type"), as they would when a later migration adds a column.
 */
export const eventColumns = [
  'global_position',
  'stream_id',
  'stream_version',
  'event_id',
  'type',
  'schema_version',
  'data',
  'metadata',
  'recorded_at',
] as const;

/** Runs a hot-path query as a prepared statement (see Connection.prepare), or as a plain one with `prepared` false. */
async function runPrepared<Row>(session: SessionContext, query: { compile(executor: Executor): CompiledQuery<Row> }, prepared = true): Promise<Row[]> {
  const compiled = query.compile(session.executor);
  if (prepared) session.prepare(compiled.sql);
  return (await session.executor.executeQuery(compiled)).rows;
}

export async function readStream<E extends RecordedEvent = RecordedEvent>(
  session: SessionContext,
  streamId: string,
  options?: ReadStreamOptions,
): Promise<E[]> {
  session.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const { fromVersion = 1, toVersion, direction = 'forward', limit } = parseInput(readStreamOptionsSchema, options, 'options') ?? {};
  const keySchema = keySchemaOf(session);
  const query = readStreamQuery(session.schema, id, { fromVersion, toVersion, direction, limit }, keySchema);
  session.prepare(query.sql);
  const rows = await rowsUnlessKeysRefused(session, keySchema, session.executor.executeQuery(query));
  if (rows === undefined) return readStream(session, streamId, options);
  if (rows.length === 0) return [];
  if (rows[0]!.deleted_at !== null) throw new StreamDeletedError(id);
  if (rows[0]!.global_position === null) return [];
  return revealedStreamRows(
    session,
    keySchema,
    rows.map((row) => toRecordedEvent(row as EventRow) as E),
    rows,
  );
}

export async function readAll<E extends RecordedEvent = RecordedEvent>(session: SessionContext, options?: ReadAllOptions): Promise<E[]> {
  session.assertOpen();
  const parsed = parseInput(readAllOptionsSchema, options, 'options') ?? {};
  // A filtered read is planned for its values, never prepared: a prepared statement goes
  // to a generic plan after five runs, and the generic plan of `type = $1` assumes an
  // average type and walks the primary key, dropping the other types' events (a rare
  // type: most of the log for each page). Planning costs a fraction of a millisecond.
  const filtered = parsed.types !== undefined || parsed.categories !== undefined;
  const rows = await readingLog(() => runPrepared(session, readAllQuery(session, parsed), !filtered));
  return revealed(session, rows.map((row) => toRecordedEvent(row as EventRow) as E));
}

/**
 * The statement of a readAll page, options already checked. Exported for the benchmark's
 * raw client, which runs Annals' very own SQL through plain `pg` (bench/contestants).
 */
export function readAllQuery(session: Pick<SessionContext, 'executor' | 'schema'>, options: ReadAllOptions) {
  const { after = 0n, limit, types, categories, partition } = options;
  const inPartition = partitionCondition(session.schema, partition);
  return bothSides(
    session,
    (from) =>
      from
        .select(eventColumns)
        .where('global_position', '>', after.toString())
        .$if(inPartition !== undefined, (q) => q.where(inPartition!)),
    { limit, hot: (q) => q.where('global_position', '<', readBound(session.schema)), branches: logBranches(types, categories) },
  );
}

/** Runs a bounded read of the log, with AN003 (a moved store) as a LogAheadError. */
export async function readingLog<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw logAheadError(error) ?? error;
  }
}

export async function getStreamInfo(session: SessionContext, streamId: string): Promise<StreamInfo | null> {
  session.assertOpen();
  const id = parseInput(streamIdSchema, streamId, 'streamId');
  const row = await session.executor
    .withSchema(session.schema)
    .selectFrom('streams')
    .selectAll()
    .where('stream_id', '=', id)
    .executeTakeFirst();
  if (!row) return null;
  return {
    streamId: row.stream_id,
    category: row.category,
    version: Number(row.version),
    truncateBefore: Number(row.truncate_before),
    historyStart: Number(row.history_start),
    deleted: row.deleted_at !== null,
    deletedAt: row.deleted_at === null ? null : new Date(row.deleted_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export async function readEventsById<E extends RecordedEvent = RecordedEvent>(session: SessionContext, eventIds: readonly string[]): Promise<E[]> {
  session.assertOpen();
  const ids = parseInput(eventIdsSchema, eventIds, 'eventIds');
  if (ids.length === 0) return [];
  const rows = await session.executor
    .withSchema(session.schema)
    .selectFrom('events_all')
    .select(eventColumns)
    .where('event_id', '=', anyOf(ids, 'uuid'))
    .orderBy('global_position')
    .execute();
  return revealed(session, rows.map((row) => toRecordedEvent(row as EventRow) as E));
}

export async function headPosition(session: SessionContext): Promise<bigint> {
  session.assertOpen();
  const row = await readingLog(() => session.executor
    .withSchema(session.schema)
    .selectFrom('events_all')
    .select((eb) => eb.fn.max('global_position').as('head'))
    .where('global_position', '<', readBound(session.schema))
    .executeTakeFirst());
  return row?.head === null || row?.head === undefined ? 0n : BigInt(row.head);
}

export async function lastCommittedPosition(session: SessionContext): Promise<bigint> {
  session.assertOpen();
  // No bound: every committed row is visible to a fresh statement, whatever is open.
  const row = await session.executor
    .withSchema(session.schema)
    .selectFrom('events_all')
    .select((eb) => eb.fn.max('global_position').as('last'))
    .executeTakeFirst();
  return row?.last === null || row?.last === undefined ? 0n : BigInt(row.last);
}

export async function logHoldback(session: SessionContext): Promise<LogHoldback | null> {
  session.assertOpen();
  const { rows } = await session.executor.executeQuery(
    CompiledQuery.raw(logHoldbackText(), [appenderKey(session.schema)]) as CompiledQuery<{
      pid: number;
      application_name: string;
      xact_start: Date | string;
      state: string;
      query: string;
      age_ms: number;
    }>,
  );
  const row = rows[0];
  if (!row) return null;
  return {
    pid: row.pid,
    applicationName: row.application_name,
    transactionStartedAt: new Date(row.xact_start),
    ageMs: Math.round(row.age_ms),
    state: row.state,
    query: row.query,
  };
}
