import type { FastifyBaseLogger } from 'fastify';
import { StoreClosedError } from '../../errors.js';
import type { EventStore } from '../../event-store/event-store.js';
import { storeLocals } from '../../event-store/store-locals.js';

/**
 * Where the subscriptions of one store meet the database, once per process: one LISTEN
 * connection on the store's channel (`subscribeToAppends`: appends notify on it, and so
 * do projection workers when a checkpoint moves, consumers/checkpoint-notifier.ts), and one
 * loop that, on each notification, asks every feed to look for what changed. A feed is
 * what the subscribers of one subscription definition share (one projection's rows, the
 * log): a thousand subscribers of `postLikes` cost one read per change, not a thousand.
 *
 * Notifications are a hint, as for read your writes (consumers/position-watch.ts): a slow
 * poll stands in for one lost while the connection was down. Notifications during a round
 * ask for one more round, never more. Every process runs its own hub on the same channel,
 * so the database is the bus between API processes: whichever process appended, every
 * process hears of it and pushes to its own subscribers.
 */

/** What the subscribers of one definition share (projection-feed.ts, log-subscription.ts). */
export interface Feed {
  /** Subscribers it serves now: the hub forgets a feed that has none. */
  readonly size: number;
  /** Looks for what changed since the last round and pushes it; throws on a database fault. */
  round(): Promise<void>;
  /** Ends every subscriber with `error` (the store was closed). */
  fail(error: unknown): void;
}

/** Rounds without a notification, for one that was lost; faster while no LISTEN connection is up. */
const pollIntervalMs = 1000;
const pollIntervalUnlistenedMs = 250;
/** How long the LISTEN connection stays up after the last subscriber left (a client reconnecting soon finds it up). */
const lingerMs = 10_000;

export class SubscriptionHub {
  readonly #store: EventStore;
  readonly #log: FastifyBaseLogger;
  readonly #feeds = new Map<object, Feed>();
  #listening: { close(): Promise<void> } | undefined;
  #subscribing: Promise<void> | undefined;
  #round: Promise<void> | undefined;
  #again = false;
  #poll: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(store: EventStore, log: FastifyBaseLogger) {
    this.#store = store;
    this.#log = log;
  }

  /** Subscribers of every feed, in this process and for this store. */
  get subscribers(): number {
    let count = 0;
    for (const feed of this.#feeds.values()) count += feed.size;
    return count;
  }

  /** Feeds with subscribers. */
  get feeds(): number {
    return this.#feeds.size;
  }

  /** Whether the LISTEN connection is up. */
  get listening(): boolean {
    return this.#listening !== undefined;
  }

  /** The feed of `definition`, made by `create` when there is none; the hub starts listening. */
  feed<F extends Feed>(definition: object, create: () => F): F {
    let feed = this.#feeds.get(definition) as F | undefined;
    if (!feed) this.#feeds.set(definition, (feed = create()));
    clearTimeout(this.#linger);
    this.#linger = undefined;
    void this.#listen();
    this.#startPolling();
    return feed;
  }

  /** A feed lost its last subscriber: forget it, and go idle when it was the last. */
  release(definition: object): void {
    const feed = this.#feeds.get(definition);
    if (!feed || feed.size > 0) return;
    this.#feeds.delete(definition);
    if (this.#feeds.size === 0) this.#idle();
  }

  /** Asks for a round now (a new subscriber, a notification, a poll). */
  wake(): void {
    if (this.#round) {
      this.#again = true;
      return;
    }
    this.#round = this.#rounds().finally(() => (this.#round = undefined));
  }

  /** Closes the LISTEN connection now (feeds carry on by polling). */
  async close(): Promise<void> {
    clearTimeout(this.#linger);
    this.#linger = undefined;
    await this.#subscribing;
    const listening = this.#listening;
    this.#listening = undefined;
    await listening?.close().catch(() => {});
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false;
      for (const [definition, feed] of [...this.#feeds]) {
        if (feed.size === 0) {
          this.release(definition);
          continue;
        }
        try {
          await feed.round();
          if (this.#failing) this.#log.info('subscriptions: reading the database again');
          this.#failing = false;
        } catch (error) {
          if (error instanceof StoreClosedError) {
            feed.fail(error);
            this.#feeds.delete(definition);
            continue;
          }
          // Once per streak of failures (the database away): the poll tries again.
          if (!this.#failing) this.#log.warn({ err: error }, 'subscriptions: a round failed; trying again at the next poll');
          this.#failing = true;
        }
      }
    } while (this.#again && this.#feeds.size > 0);
    if (this.#feeds.size === 0) this.#idle();
  }

  #listen(): Promise<void> {
    if (this.#listening) return Promise.resolve();
    this.#subscribing ??= this.#store
      .subscribeToAppends(
        () => this.wake(),
        () => {
          this.#listening = undefined;
          this.#restartPolling();
        },
      )
      .then(
        (listening) => {
          this.#listening = listening;
          this.#restartPolling();
          // Something may have changed while connecting.
          this.wake();
          if (this.#feeds.size === 0) this.#idle();
        },
        // No LISTEN connection (the database away, the store closed): polling stands in, and
        // the rounds find out why.
        () => {},
      )
      .finally(() => (this.#subscribing = undefined));
    return this.#subscribing;
  }

  #startPolling(): void {
    if (this.#poll) return;
    this.#poll = setInterval(
      () => {
        if (!this.#listening) void this.#listen();
        this.wake();
      },
      this.#listening ? pollIntervalMs : pollIntervalUnlistenedMs,
    );
    // The websocket connections keep a service alive; the poll alone must not.
    this.#poll.unref();
  }

  #restartPolling(): void {
    if (!this.#poll) return;
    clearInterval(this.#poll);
    this.#poll = undefined;
    if (this.#feeds.size > 0) this.#startPolling();
  }

  #idle(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
    if (this.#linger) return;
    this.#linger = setTimeout(() => {
      this.#linger = undefined;
      if (this.#feeds.size === 0) void this.close();
    }, lingerMs);
    this.#linger.unref();
  }
}

const hubKey = {};

/**
 * The hub of `store` in this process, kept with the store (no global state): every
 * service on that store object shares it, and its LISTEN connection closes with the
 * store. `log` is the first caller's (it logs rounds that fail).
 */
export function subscriptionHubOf(store: EventStore, log: FastifyBaseLogger): SubscriptionHub {
  const locals = store[storeLocals];
  if (!locals) return new SubscriptionHub(store, log);
  let hub = locals.get(hubKey) as SubscriptionHub | undefined;
  if (!hub) locals.set(hubKey, (hub = new SubscriptionHub(store, log)));
  return hub;
}

/** The hub of `store`, if subscriptions have used it in this process. */
export function existingHubOf(store: EventStore): SubscriptionHub | undefined {
  return store[storeLocals]?.get(hubKey) as SubscriptionHub | undefined;
}
