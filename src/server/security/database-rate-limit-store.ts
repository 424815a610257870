/**
 * Rate-limit counts shared by every API process of an event store: one row per limit and
 * caller in the store's `rate_limit_windows` table (migrations/0011_rate_limit_windows.sql),
 * a fixed window each, counted by one statement on the database's clock.
 */
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { CompiledQuery } from 'kysely';
import { quoteIdent } from '../../database/quote-ident.js';
import type { EventStore } from '../../event-store/event-store.js';
import { FixedWindowStore, type RateLimitCallback, type RateLimitCount, type RateLimitStore } from './rate-limit-store.js';

export interface DatabaseRateLimitOptions {
  store: EventStore;
  /**
   * Counts in this process's memory instead when the database turns out to be PGlite,
   * which only one process can open (the default, where the backend is not chosen).
   */
  inMemoryOnPGlite: boolean;
  /** Where a failed sweep is reported. */
  log: FastifyBaseLogger;
}

/** Every this many counts (the first one included), a process deletes ended windows. */
const sweepEvery = 100;
/** At most this many rows per sweep: more than `sweepEvery` counts can have added, so the table shrinks back. */
const sweepBatch = 1000;
/** Longer keys are stored by their hash: a subject of any length (a JWT's `sub`) still fits the index. */
const maxKeyLength = 200;

/**
 * What the stores of one service share: the statements, the count of calls (for the
 * sweep) and what the database turned out to be.
 */
class DatabaseCounts {
  readonly #options: DatabaseRateLimitOptions;
  readonly #countText: string;
  readonly #sweepText: string;
  #calls = 0;
  #onPGlite: Promise<boolean> | undefined;

  constructor(options: DatabaseRateLimitOptions) {
    this.#options = options;
    const table = `${quoteIdent(options.store.schema)}.rate_limit_windows`;
    // One statement, so concurrent counts of a key (from any process) serialize on its
    // row: each gets a count of its own and exactly `max` pass. now() is the database's
    // clock, the same for every process, whatever their own clocks say. A row whose window
    // has ended counts as absent: the count starts again at 1 in a new window.
    this.#countText = `
      INSERT INTO ${table} AS w (key, count, window_ends_at)
      VALUES ($1::text, 1, now() + $2::integer * interval '1 millisecond')
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN w.window_ends_at <= now() THEN 1 ELSE w.count + 1 END,
        window_ends_at = CASE WHEN w.window_ends_at <= now() THEN excluded.window_ends_at ELSE w.window_ends_at END
      RETURNING w.count::float8 AS current, (extract(epoch FROM w.window_ends_at - now()) * 1000)::float8 AS ttl`;
    // SKIP LOCKED: a row being counted right now is left for the next sweep, and two
    // processes sweeping at once do not wait for each other. Deleting an ended window
    // changes nothing a count sees (it counts as absent either way).
    this.#sweepText = `
      DELETE FROM ${table} WHERE key IN (
        SELECT key FROM ${table} WHERE window_ends_at <= now() ORDER BY window_ends_at LIMIT ${sweepBatch} FOR UPDATE SKIP LOCKED
      ) AND window_ends_at <= now()`;
  }

  /** Counts one operation of `key`, or answers undefined when the counts are to be kept in memory. */
  async count(key: string, windowMs: number): Promise<RateLimitCount | undefined> {
    if (this.#options.inMemoryOnPGlite && (await this.#isPGlite())) return undefined;
    if (this.#calls++ % sweepEvery === 0) void this.#sweep();
    const stored = key.length <= maxKeyLength ? key : `${key.slice(0, 100)}#sha256:${createHash('sha256').update(key).digest('hex')}`;
    const { rows } = await this.#options.store.read((db) => db.executeQuery<RateLimitCount>(CompiledQuery.raw(this.#countText, [stored, windowMs])));
    const row = rows[0];
    if (row === undefined) throw new Error('the rate-limit count returned no row');
    return { current: row.current, ttl: Math.max(0, Math.ceil(row.ttl)) };
  }

  #isPGlite(): Promise<boolean> {
    // Asked once; asked again after a failure (the database was not reachable yet).
    this.#onPGlite ??= this.#options.store
      .read((db) => db.executeQuery<{ pglite: boolean }>(CompiledQuery.raw(`SELECT strpos(version(), 'PGlite') > 0 AS pglite`)))
      .then(({ rows }) => rows[0]?.pglite === true)
      .catch((error: unknown) => {
        this.#onPGlite = undefined;
        throw error;
      });
    return this.#onPGlite;
  }

  async #sweep(): Promise<void> {
    try {
      await this.#options.store.read((db) => db.executeQuery(CompiledQuery.raw(this.#sweepText)));
    } catch (error) {
      // Off the request's path, and harmless to miss: a later sweep deletes what this one left.
      this.#options.log.warn({ err: error }, 'could not delete ended rate-limit windows; a later count tries again');
    }
  }
}

/**
 * The store of one limit: counts in the database, or in memory on PGlite when the backend
 * was not chosen. A database error reaches the plugin, and the limiter, as an error.
 */
class DatabaseRateLimitStore implements RateLimitStore {
  readonly #counts: DatabaseCounts;
  readonly #inMemory = new FixedWindowStore();

  constructor(counts: DatabaseCounts) {
    this.#counts = counts;
  }

  incr(key: string, callback: RateLimitCallback, timeWindow: number): void {
    this.#counts.count(key, timeWindow).then(
      (count) => callback(null, count ?? this.#inMemory.count(key, timeWindow)),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  child(): RateLimitStore {
    return new DatabaseRateLimitStore(this.#counts);
  }
}

/** Makes the store of each limit of one service; they share the statements and the sweep. */
export function databaseRateLimitStores(options: DatabaseRateLimitOptions): () => RateLimitStore {
  const counts = new DatabaseCounts(options);
  return () => new DatabaseRateLimitStore(counts);
}
