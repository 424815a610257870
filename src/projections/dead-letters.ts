import { parseDeadLetterId, skipConsumerDeadLetter } from '../consumers/consumer-dead-letters.js';
import { markDeadLetterRetried, readDeadLetter, selectDeadLetters, type ConsumerDeadLetter } from '../consumers/dead-letters.js';
import { resumePartitions } from '../consumers/partitions.js';
import type { EventStore } from '../event-store/event-store.js';
import { DeadLetterError, UnknownProjectionError, ValidationError } from '../errors.js';
import { applyEvents } from './apply.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { readGeneration, readProjectionNames } from './generations.js';
import { projectionContext } from './projection-context.js';

/** A projection's dead letter: a consumer's, named by its projection. */
export type DeadLetter = Omit<ConsumerDeadLetter, 'consumer'> & { projection: string };

/** A consumer's dead letter as a projection's: its consumer is the projection. */
const toDeadLetter = ({ consumer, ...letter }: ConsumerDeadLetter): DeadLetter => ({ ...letter, projection: consumer });

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
  options: { projection?: string; status?: DeadLetter['status'] | 'all'; limit?: number; after?: string } = {},
): Promise<DeadLetter[]> {
  if (options.after !== undefined && !/^\d{1,19}$/.test(options.after)) {
    throw new ValidationError([{ field: 'options.after', reason: "must be a dead letter's id (digits), to list the ones after it" }]);
  }
  const letters = await store.withTransaction(
    async (tx) =>
      selectDeadLetters(tx, {
        // Without a name, every projection's: not those of the other consumers of the log.
        consumer: options.projection ?? (await readProjectionNames(tx)),
        status: options.status ?? 'pending',
        limit: options.limit ?? 1000,
        ...(options.after === undefined ? {} : { after: options.after }),
      }),
    { appends: false },
  );
  return letters.map(toDeadLetter);
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
  const checkedId = parseDeadLetterId(id);
  return store.withTransaction(async (tx) => {
    const letter = await readDeadLetter(tx, checkedId, { forUpdate: true });
    // A dead letter of a consumer that is not a projection has no generation: none of ours.
    const generation = letter && (await readGeneration(tx, letter.consumer, letter.generation));
    if (!letter || !generation) throw new DeadLetterError(checkedId, 'no such dead letter');
    if (letter.status !== 'pending') throw new DeadLetterError(checkedId, `it is already ${letter.status}`);
    if (generation.status === 'retired') {
      throw new DeadLetterError(checkedId, `generation ${letter.generation} of '${letter.consumer}' was replaced by a rebuild; skip it`);
    }
    const projection = projections.find((p) => p.name === letter.consumer);
    if (!projection) throw new UnknownProjectionError(letter.consumer, projections.map((p) => p.name));
    const [event] = await tx.readEventsById([letter.eventId]);
    if (!event) throw new DeadLetterError(checkedId, `event ${letter.eventId} is no longer in the log`);
    const context = await projectionContext(tx, generation.schemaName, {
      replaying: generation.status === 'building',
      generation: letter.generation,
      partition: letter.partition,
    });
    try {
      await applyEvents(projection, [projection.decode(event) as AnyProjectedEvent], context, false);
    } catch (error) {
      throw new DeadLetterError(checkedId, `the handler failed again: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return toDeadLetter((await markDeadLetterRetried(tx, checkedId))!);
  });
}

/**
 * Gives up on a dead letter: it stays listed (status `skipped`) but is never applied.
 *
 * @throws DeadLetterError when the id is unknown or not pending.
 */
export async function skipDeadLetter(store: EventStore, id: string): Promise<DeadLetter> {
  // A projection's dead letter is skipped like any consumer's: nothing to apply, only the mark.
  return toDeadLetter(await skipConsumerDeadLetter(store, id));
}

/**
 * Lets the stopped partitions of a projection run again (after fixing the handler that
 * stopped them); the workers claim them on their next round.
 */
export async function resumeProjection(store: EventStore, projection: string): Promise<number> {
  return store.withTransaction((tx) => resumePartitions(tx, projection));
}

