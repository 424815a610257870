import type { EventStore } from '../event-store/event-store.js';
import { appendChannel } from '../event-store/postgres/append-channel.js';
import { AppendNotifier } from '../event-store/postgres/append-notifier.js';

/**
 * Tells the store's listeners that a checkpoint moved (a batch applied events, an event
 * was dead-lettered, a partition stopped), so that whoever waits for a read model to reach
 * a position (waitForProjections) looks again at once instead of at its next poll.
 *
 * Sent after the checkpoint's transaction committed, from a transaction of its own, never
 * from inside the batch's: Postgres serializes the commits of transactions that notify on
 * one global lock (docs/projections.md, "Running projections"). Coalesced like the store's
 * append notifications: one in flight at a time, one more for every move meanwhile.
 * Best effort: a lost one only delays a waiter until its next poll.
 *
 * It goes on the appends' channel because the store can LISTEN on that one only
 * (`subscribeToAppends`). Workers hear it too and run one more batch, which finds nothing
 * new (a batch that applies nothing sends nothing, so this never loops).
 */
export class CheckpointNotifier {
  readonly #notifier: AppendNotifier;

  constructor(store: EventStore) {
    const channel = appendChannel(store.schema);
    this.#notifier = new AppendNotifier(() =>
      store.withTransaction((tx) => tx.query('SELECT pg_notify($1, $2)', [channel, '']), { appends: false }),
    );
  }

  /** Asks for a notification; never waits for it and never throws. */
  notify(): void {
    this.#notifier.notify();
  }

  /** Waits for the notification in flight, if any (before the store closes). */
  settle(): Promise<void> {
    return this.#notifier.settle();
  }
}
