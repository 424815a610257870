import type { EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { EventSchemaError } from '../errors.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { describe } from '../consumers/failures.js';
import { table } from './generations.js';
import { recordDeadLetter } from '../consumers/dead-letters.js';
import { projectionTables } from './projection-tables.js';

/**
 * What an inline projection's live generation still has to apply (issue 10).
 *
 * An inline append applies a projection only when the appending code's version is the
 * live generation's: code of another version (a rolling deploy, a rollback) would write
 * its own schema and meaning into tables it did not create. It records the events in
 * `projection_inline_pending` instead (migrations/0008), in the append's transaction,
 * and code of the live version applies them, fresh (that code never saw them):
 *
 * - the next inline append of that code to the same stream, before its own events. It
 *   holds the stream's row lock (the append statement updates the row), so every
 *   earlier append to the stream has committed and its rows are visible;
 * - the workers' sweep, applyPendingInline (inline-sweep.ts), which takes the stream's row lock itself
 *   (skipping streams being appended to), so a stream's events are applied in order by
 *   one transaction at a time, whoever applies them.
 *
 * Builds never get these rows: workers fill a building generation from the log. At the
 * switch, the rows of the retired generation are deleted (forgetOwed); the build applied
 * those events as fresh (owedByLive), since the old code never did.
 */

/** The live generation of a projection: its number, the version of the code that writes it, its schema. */
export interface LiveGeneration {
  generation: number;
  version: number;
  schemaName: string;
}

export async function readLive(tx: EventStoreTransaction, projection: string): Promise<LiveGeneration | undefined> {
  const row = await projectionTables(tx)
    .selectFrom('projection_generations')
    .select(['generation', 'version', 'schema_name'])
    .where('projection', '=', projection)
    .where('status', '=', 'live')
    .executeTakeFirst();
  return row && { generation: row.generation, version: row.version, schemaName: row.schema_name };
}

/**
 * Records, in the appender's transaction, that `generation` owes those of `events` (this
 * transaction's own, as it read them back) it handles: by its own types and categories
 * (projection_generations), which the appending code, of another version, does not know.
 */
export async function recordOwed(
  tx: EventStoreTransaction,
  projection: string,
  generation: number,
  events: readonly Pick<RecordedEvent, 'globalPosition' | 'streamId' | 'type'>[],
): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO ${table(tx.schema, 'projection_inline_pending')} (projection, generation, global_position, stream_id)
     SELECT g.projection, g.generation, e.global_position, e.stream_id
       FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS e(global_position, stream_id, type, category)
       JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = $1 AND g.generation = $2
      WHERE (g.event_types IS NULL OR e.type = ANY(g.event_types))
        AND (g.categories IS NULL OR e.category = ANY(g.categories))
     ON CONFLICT DO NOTHING`,
    [
      projection,
      generation,
      events.map((e) => e.globalPosition.toString()),
      events.map((e) => e.streamId),
      events.map((e) => e.type),
      events.map((e) => categoryOf(e.streamId)),
    ],
  );
}

/**
 * For an inline append to `streamId`: the live generation, and when it is of this code's
 * version, what it owes of the stream, taken off the table (one statement when nothing is
 * owed, the usual case: this is the append's path). The caller appended to the stream, so
 * holds its row lock: every earlier append to it has committed, and no sweep holds its
 * rows.
 */
export async function takeOwedOfStream(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  streamId: string,
): Promise<{ live: LiveGeneration | undefined; owed: AnyProjectedEvent[] }> {
  const rows = await tx.query<{ generation: number; version: number; schema_name: string; global_position: string | bigint | null }>(
    `WITH live AS (
       SELECT generation, version, schema_name FROM ${table(tx.schema, 'projection_generations')} WHERE projection = $1 AND status = 'live'),
     owed AS (
       DELETE FROM ${table(tx.schema, 'projection_inline_pending')} p USING live
        WHERE p.projection = $1 AND p.generation = live.generation AND live.version = $2 AND p.stream_id = $3
       RETURNING p.global_position)
     SELECT live.generation, live.version, live.schema_name, owed.global_position
       FROM live LEFT JOIN owed ON true`,
    [projection.name, projection.version, streamId],
  );
  const [first] = rows;
  if (!first) return { live: undefined, owed: [] };
  const live = { generation: first.generation, version: first.version, schemaName: first.schema_name };
  const positions = rows.flatMap((row) => (row.global_position === null ? [] : [BigInt(row.global_position)]));
  return { live, owed: await decodeOrDeadLetter(tx, projection, live.generation, await owedEvents(tx, positions)) };
}

/**
 * The events at `positions`, owed by a live generation, in log order. Each row of what is
 * owed was written by the transaction that appended its event, so an event whose row this
 * transaction sees has committed and is here too: readEventsAt is a lookup, not bounded
 * by what readers of the log can see yet, and must not be (an event that committed while
 * an older appender is still open would be deleted from what is owed, and never applied).
 */
export async function owedEvents(tx: EventStoreTransaction, positions: readonly bigint[]): Promise<RecordedEvent[]> {
  return positions.length === 0 ? [] : tx.readEventsAt(positions);
}

/**
 * The events of `rows` in this code's shape. One this code cannot read (a schema version
 * newer than it knows: the other version's code wrote it) is dead-lettered, like a
 * worker does, rather than failing every later append to its stream: stored events never
 * change, so no retry would help. retryDeadLetter applies it once the code can read it.
 */
export async function decodeOrDeadLetter(
  tx: EventStoreTransaction,
  projection: AnyProjection,
  generation: number,
  recorded: readonly RecordedEvent[],
): Promise<AnyProjectedEvent[]> {
  const events: AnyProjectedEvent[] = [];
  for (const event of recorded) {
    try {
      events.push(projection.decode(event) as AnyProjectedEvent);
    } catch (error) {
      if (!(error instanceof EventSchemaError)) throw error;
      await recordDeadLetter(tx, { consumer: projection.name, generation, partition: 0 }, {
        globalPosition: event.globalPosition,
        id: event.id,
        streamId: event.streamId,
        version: event.version,
        type: event.type,
        message: describe(error),
        stack: error.stack ?? null,
        attempts: 1,
      });
    }
  }
  return events;
}

/**
 * Of `positions` (events a batch of an inline projection's build is about to apply), those
 * the live generation still owes: its code never applied them, so the build applies them
 * as fresh (`replaying: false`), and the rest as history. Call it holding the
 * projection's lock shared, so the live generation cannot be switched away meanwhile.
 * An owed event the old code applies after the build read it is then handled fresh by
 * both: a duplicate side effect is possible, a lost one is not. Undefined when there is
 * no live generation (the first build: appends skip it, so history is what the log held
 * when it was created, `replay_until`).
 */
export async function owedByLive(tx: EventStoreTransaction, projection: string, positions: readonly bigint[]): Promise<Set<bigint> | undefined> {
  const rows = await tx.query<{ global_position: string | bigint | null }>(
    `SELECT p.global_position
       FROM ${table(tx.schema, 'projection_generations')} g
       LEFT JOIN ${table(tx.schema, 'projection_inline_pending')} p
         ON p.projection = g.projection AND p.generation = g.generation AND p.global_position = ANY($2::bigint[])
      WHERE g.projection = $1 AND g.status = 'live'`,
    [projection, positions.map(String)],
  );
  if (rows.length === 0) return undefined;
  return new Set(rows.filter((row) => row.global_position !== null).map((row) => BigInt(row.global_position!)));
}

/** Deletes what a generation being retired still owes; returns how many events that was. */
export async function forgetOwed(tx: EventStoreTransaction, projection: string, generation: number): Promise<number> {
  const result = await projectionTables(tx)
    .deleteFrom('projection_inline_pending')
    .where('projection', '=', projection)
    .where('generation', '=', generation)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** How many events the live generation of this version of a projection still owes (0 when another version is live). */
export async function countOwed(tx: EventStoreTransaction, projection: string, version: number): Promise<number> {
  const row = await projectionTables(tx)
    .selectFrom('projection_inline_pending as p')
    .innerJoin('projection_generations as g', (join) => join.onRef('g.projection', '=', 'p.projection').onRef('g.generation', '=', 'p.generation'))
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .where('p.projection', '=', projection)
    .where('g.status', '=', 'live')
    .where('g.version', '=', version)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
