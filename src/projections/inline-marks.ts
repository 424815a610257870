import type { EventStore, EventStoreTransaction } from '../event-store/event-store.js';
import type { AnyProjection } from './define-projection.js';
import { table } from './generations.js';

/**
 * Which generations are applied inline (migrations/0012): written by each append's
 * transaction rather than by workers moving checkpoints. Readers that follow a
 * generation's progress need to know: an inline generation's live checkpoints stay where
 * its build left them, and what it has applied is every event up to the readers' bound
 * that it does not still owe (subscriptions, projection-feed.ts).
 *
 * Inline-ness is a fact of the code that writes a generation, so the code marks the
 * generations of its own version: a later version run by workers (no longer inline) gets
 * generations of its own, unmarked. Marked by withInlineProjections once set up, and by
 * the inline projection's workers on each round (the sweep, inline-sweep.ts), which covers
 * a generation created after the appenders set up (a rebuild started by hand).
 */

/**
 * Marks the generations of `projection` of this code's version (built or being built) as
 * applied inline. Idempotent and cheap once done: a generation already marked is not
 * written (or locked) again.
 */
export async function markAppliedInline(store: EventStore, projection: AnyProjection): Promise<void> {
  await store.withTransaction((tx) => markIn(tx, projection), { appends: false });
}

async function markIn(tx: EventStoreTransaction, projection: AnyProjection): Promise<void> {
  await tx.query(
    `UPDATE ${table(tx.schema, 'projection_generations')} SET applied_inline = true
      WHERE projection = $1 AND version = $2 AND status <> 'retired' AND NOT applied_inline`,
    [projection.name, projection.version],
  );
}
