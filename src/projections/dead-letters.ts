import type { EventStore } from '../event-store/event-store.js';
import { DeadLetterError, UnknownProjectionError, ValidationError } from '../errors.js';
import { applyEvents } from './apply.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { table } from './generations.js';
import { projectionContext } from './projection-context.js';

export interface DeadLetter {
  id: string;
  projection: string;
  generation: number;
  partition: number;
  globalPosition: bigint;
  eventId: string;
  streamId: string;
  streamVersion: number;
  eventType: string;
  error: string;
  stack: string | null;
  attempts: number;
  status: 'pending' | 'retried' | 'skipped';
  failedAt: Date;
  resolvedAt: Date | null;
}

/** A row of consumer_dead_letters: a projection's dead letters are keyed by its name as the consumer. */
interface DeadLetterRow {
  id: string | bigint;
  consumer: string;
  generation: number;
  partition: number;
  global_position: string | bigint;
  event_id: string;
  stream_id: string;
  stream_version: string | bigint;
  event_type: string;
  error_message: string;
  error_stack: string | null;
  attempts: number;
  status: DeadLetter['status'];
  failed_at: Date | string;
  resolved_at: Date | string | null;
}

const toDeadLetter = (row: DeadLetterRow): DeadLetter => ({
  id: String(row.id),
  projection: row.consumer,
  generation: row.generation,
  partition: row.partition,
  globalPosition: BigInt(row.global_position),
  eventId: row.event_id,
  streamId: row.stream_id,
  streamVersion: Number(row.stream_version),
  eventType: row.event_type,
  error: row.error_message,
  stack: row.error_stack,
  attempts: row.attempts,
  status: row.status,
  failedAt: new Date(row.failed_at),
  resolvedAt: row.resolved_at === null ? null : new Date(row.resolved_at),
});

/**
 * Dead letters, oldest first: by default the pending ones of every projection.
 *
 * @example
 * ```ts
 * const pending = await listDeadLetters(store, { projection: 'like-counts' });
 * ```
 */
export async function listDeadLetters(
  store: EventStore,
  options: { projection?: string; status?: DeadLetter['status'] | 'all'; limit?: number } = {},
): Promise<DeadLetter[]> {
  const status = options.status ?? 'pending';
  const rows = await store.withTransaction((tx) =>
    tx.query<DeadLetterRow>(
      `SELECT * FROM ${table(tx.schema, 'consumer_dead_letters')}
        WHERE ($1::text IS NULL OR consumer = $1) AND ($2::text = 'all' OR status = $2)
        ORDER BY id LIMIT $3`,
      [options.projection ?? null, status, options.limit ?? 1000],
    ),
  );
  return rows.map(toDeadLetter);
}

/**
 * Applies a dead-lettered event again, with the projection's current handlers (after a
 * fix), into the generation it failed in; marks it retried in the same transaction. If
 * the handler fails again, nothing changes and the error reaches the caller.
 *
 * Note: the event is applied after events that came later in the log. Handlers whose
 * result depends on order (a "last value wins" column) should be written to cope.
 *
 * @throws DeadLetterError when the id is unknown, not pending, or its generation retired.
 */
export async function retryDeadLetter(store: EventStore, projections: readonly AnyProjection[], id: string): Promise<DeadLetter> {
  const checkedId = checkId(id);
  return store.withTransaction(async (tx) => {
    const [row] = await tx.query<DeadLetterRow & { schema_name: string; generation_status: string }>(
      `SELECT d.*, g.schema_name, g.status AS generation_status
         FROM ${table(tx.schema, 'consumer_dead_letters')} d
         JOIN ${table(tx.schema, 'projection_generations')} g ON g.projection = d.consumer AND g.generation = d.generation
        WHERE d.id = $1 FOR UPDATE OF d`,
      [checkedId],
    );
    if (!row) throw new DeadLetterError(checkedId, 'no such dead letter');
    if (row.status !== 'pending') throw new DeadLetterError(checkedId, `it is already ${row.status}`);
    if (row.generation_status === 'retired') {
      throw new DeadLetterError(checkedId, `generation ${row.generation} of '${row.consumer}' was replaced by a rebuild; skip it`);
    }
    const projection = projections.find((p) => p.name === row.consumer);
    if (!projection) throw new UnknownProjectionError(row.consumer, projections.map((p) => p.name));
    const [event] = await tx.readEventsById([row.event_id]);
    if (!event) throw new DeadLetterError(checkedId, `event ${row.event_id} is no longer in the log`);
    const context = await projectionContext(tx, row.schema_name, {
      replaying: row.generation_status === 'building',
      generation: row.generation,
      partition: row.partition,
    });
    try {
      await applyEvents(projection, [projection.decode(event) as AnyProjectedEvent], context, false);
    } catch (error) {
      throw new DeadLetterError(checkedId, `the handler failed again: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const [updated] = await tx.query<DeadLetterRow>(
      `UPDATE ${table(tx.schema, 'consumer_dead_letters')} SET status = 'retried', resolved_at = now() WHERE id = $1 RETURNING *`,
      [checkedId],
    );
    return toDeadLetter(updated!);
  });
}

/**
 * Gives up on a dead letter: it stays listed (status `skipped`) but is never applied.
 *
 * @throws DeadLetterError when the id is unknown or not pending.
 */
export async function skipDeadLetter(store: EventStore, id: string): Promise<DeadLetter> {
  const checkedId = checkId(id);
  return store.withTransaction(async (tx) => {
    const [row] = await tx.query<DeadLetterRow>(
      `UPDATE ${table(tx.schema, 'consumer_dead_letters')} SET status = 'skipped', resolved_at = now()
        WHERE id = $1 AND status = 'pending' RETURNING *`,
      [checkedId],
    );
    if (row) return toDeadLetter(row);
    const [existing] = await tx.query<DeadLetterRow>(`SELECT * FROM ${table(tx.schema, 'consumer_dead_letters')} WHERE id = $1`, [checkedId]);
    throw new DeadLetterError(checkedId, existing ? `it is already ${existing.status}` : 'no such dead letter');
  });
}

/**
 * Lets the stopped partitions of a projection run again (after fixing the handler that
 * stopped them); the workers claim them on their next round.
 */
export async function resumeProjection(store: EventStore, projection: string): Promise<number> {
  const rows = await store.withTransaction((tx) =>
    tx.query(
      `UPDATE ${table(tx.schema, 'consumer_partitions')} SET stopped_error = NULL, updated_at = now()
        WHERE consumer = $1 AND stopped_error IS NOT NULL RETURNING 1`,
      [projection],
    ),
  );
  return rows.length;
}

function checkId(id: string): string {
  if (typeof id !== 'string' || !/^\d{1,18}$/.test(id)) throw new ValidationError([{ field: 'id', reason: 'must be a dead letter id (digits)' }]);
  return id;
}
