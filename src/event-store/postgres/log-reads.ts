import type { SelectQueryBuilder } from 'kysely';
import { revealed } from './personal.js';
import { logBranches, matchingAny } from './log-branches.js';
import { bothSides } from './log-sides.js';
import { z } from 'zod';
import type { EventStoreTables } from '../../database/tables.js';
import type { CountEventsOptions, EventCount, LogPartition, ReadAllCommittedOptions, RecordedEvent } from '../event-store.js';
import { partitionCondition } from './log-partition.js';
import { globalPositionSchema, maxListEntries, readAllOptionsSchema } from '../read-options.js';
import { parseInput } from '../../validation.js';
import { readBound } from './log-bound.js';
import { toRecordedEvent, type EventRow } from './read-statements.js';
import { eventColumns, readingLog } from './reads.js';
import { anyOf, type SessionContext } from './session-context.js';

/**
 * Reads of the global log besides readAll's paging (docs/global-log.md):
 *
 * - countEvents is bounded like readAll: it counts what a reader can see now, never an
 *   event that committed while an older appender of the store is still open;
 * - readEventsAt and readAllCommitted are not bounded: they return every event committed
 *   so far (and, in a transaction, its own), as readEventsById and lastCommittedPosition
 *   do. They are lookups for callers that know by other means that nothing can still
 *   commit below what they return (a position recorded by the event's own transaction,
 *   a lock every appender they care about takes), never a way to page the log.
 */

const readAllObject = readAllOptionsSchema.unwrap();

const countEventsOptionsSchema = readAllObject
  .omit({ limit: true })
  .extend({ until: globalPositionSchema.optional() })
  .optional();

const readAllCommittedOptionsSchema = readAllObject.extend({ until: globalPositionSchema.optional() }).optional();

const positionsSchema = z
  .array(globalPositionSchema)
  .max(maxListEntries, { error: `must list at most ${maxListEntries.toLocaleString('en-US')} global positions` });

interface LogFilter {
  after?: bigint | undefined;
  until?: bigint | undefined;
  types?: readonly string[] | undefined;
  categories?: readonly string[] | undefined;
  partition?: LogPartition | undefined;
}

/** The positions and partition of countEvents' and readAllCommitted's filter; their types and categories are logBranches or matchingAny. */
function filtered<O>(query: SelectQueryBuilder<EventStoreTables, 'events', O>, schema: string, filter: LogFilter): SelectQueryBuilder<EventStoreTables, 'events', O> {
  const { after = 0n, until, partition } = filter;
  const inPartition = partitionCondition(schema, partition);
  return query
    .where('global_position', '>', after.toString())
    .$if(until !== undefined, (q) => q.where('global_position', '<=', until!.toString()))
    .$if(inPartition !== undefined, (q) => q.where(inPartition!));
}

export async function countEvents(session: SessionContext, options?: CountEventsOptions): Promise<EventCount> {
  session.assertOpen();
  const filter = parseInput(countEventsOptionsSchema, options, 'options') ?? {};
  const db = session.executor.withSchema(session.schema);
  // The bound is computed once, in a CTE both subqueries read: two evaluations could see
  // different appenders and count one window while taking the oldest from another.
  const row = await readingLog(() =>
    db
      .with('log', (q) => q.selectNoFrom(readBound(session.schema).as('bound')))
      .selectNoFrom((eb) => {
        const visible = () =>
          // A count, in no order: the view (both tables) serves it as well as each side would.
          matchingAny(filter.types, filter.categories)(filtered(eb.selectFrom('events_all' as 'events'), session.schema, filter)).where(
            'global_position',
            '<',
            eb.selectFrom('log').select('log.bound'),
          );
        return [
          visible().select((e) => e.fn.countAll<string | bigint | number>().as('n')).as('count'),
          visible().select('recorded_at').orderBy('global_position').limit(1).as('oldest'),
        ];
      })
      .executeTakeFirst(),
  );
  const oldest = row?.oldest ?? null;
  return { count: Number(row?.count ?? 0), oldestRecordedAt: oldest === null ? null : new Date(oldest) };
}

export async function readEventsAt<E extends RecordedEvent = RecordedEvent>(session: SessionContext, positions: readonly bigint[]): Promise<E[]> {
  session.assertOpen();
  const checked = parseInput(positionsSchema, positions, 'positions');
  if (checked.length === 0) return [];
  const rows = await session.executor
    .withSchema(session.schema)
    .selectFrom('events_all')
    .select(eventColumns)
    .where('global_position', '=', anyOf(checked.map(String), 'bigint'))
    .orderBy('global_position')
    .execute();
  return revealed(session, rows.map((row) => toRecordedEvent(row as EventRow) as E));
}

export async function readAllCommitted<E extends RecordedEvent = RecordedEvent>(session: SessionContext, options?: ReadAllCommittedOptions): Promise<E[]> {
  session.assertOpen();
  const { limit, ...filter } = parseInput(readAllCommittedOptionsSchema, options, 'options') ?? {};
  // No bound, on purpose (see the top of this file): lastCommittedPosition's counterpart of readAll.
  const rows = await bothSides(session, (from) => filtered(from, session.schema, filter).select(eventColumns), {
    limit,
    branches: logBranches(filter.types, filter.categories),
  }).execute();
  return revealed(session, rows.map((row) => toRecordedEvent(row as EventRow) as E));
}
