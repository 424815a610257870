import { isDeepStrictEqual } from 'node:util';
import { ValidationError } from '../errors.js';
import type { EventStore, EventStoreSession, EventStoreTransaction } from '../event-store/event-store.js';
import type { AnyAggregate, SnapshotPolicy, StateOf } from './define-aggregate.js';

/**
 * Where `handleCommand` reports what goes wrong without failing the command (a snapshot
 * it could not save). pino's logger fits (`logger: pino()`, or fastify's `request.log`).
 */
export interface CommandLogger {
  warn(details: object, message: string): void;
}

/** How many snapshots of an aggregate this process saved, and how many it could not. */
export interface SnapshotCounts {
  written: number;
  failed: number;
}

/**
 * Refuses, when an aggregate is defined, a snapshot policy its initial state does not
 * survive: a `bigint` without `toSnapshot`, a `Set` that would come back as `{}`, a
 * `toSnapshot` that throws. Loads from such snapshots would decide on another state than
 * a replay; better to hear it from `defineAggregate` than from production.
 *
 * @throws ValidationError naming `aggregate.<category>.snapshots`.
 */
export function checkSnapshotPolicy<State>(category: string, policy: SnapshotPolicy<State>, initialState: () => State): void {
  snapshotDataOf(category, policy, initialState(), 'initialState()');
}

/**
 * What a snapshot of `state` stores: `toSnapshot`'s result, checked to be JSON data that
 * Postgres' `jsonb` takes, and to come back as `state` through JSON and `fromSnapshot`.
 * Only then does a load from the snapshot give the state a replay gives.
 *
 * @throws ValidationError naming `aggregate.<category>.snapshots` and what went wrong.
 */
export function snapshotDataOf<State>(category: string, policy: SnapshotPolicy<State>, state: State, what: string): unknown {
  const refuse = (reason: string) => new ValidationError([{ field: `aggregate.${category}.snapshots`, reason: `${what} ${reason}` }]);
  const advice = 'give snapshots a toSnapshot and fromSnapshot that convert it to JSON data and back';
  let data: unknown;
  try {
    data = policy.toSnapshot ? policy.toSnapshot(state) : state;
  } catch (error) {
    throw refuse(`cannot be snapshotted: toSnapshot threw: ${messageOf(error)}`);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw refuse(`is not JSON data (${messageOf(error)}): ${advice}`);
  }
  if (json === undefined) throw refuse(`is not JSON data: ${advice}`);
  const stored: unknown = JSON.parse(json);
  const unstorable = unstorableStringIn(stored, 'state');
  if (unstorable) {
    // Postgres refuses these in jsonb (22P02, 22P05): found here, the error names the field.
    throw refuse(`holds a string Postgres cannot store at ${unstorable} (a lone surrogate, as slice() leaves of an emoji, or \\u0000)`);
  }
  let back: unknown;
  try {
    back = policy.fromSnapshot ? policy.fromSnapshot(stored) : stored;
  } catch (error) {
    throw refuse(`cannot be read back: fromSnapshot threw: ${messageOf(error)}`);
  }
  if (!isDeepStrictEqual(comparable(back), comparable(state))) {
    throw refuse(
      'does not come back the same from a snapshot (toSnapshot, JSON, fromSnapshot): a Map, Set, Date, class instance ' +
        `or undefined in an array does not survive JSON; ${advice}`,
    );
  }
  return data;
}

/** Where a command left a stream, for {@link saveSnapshot}. */
export interface SnapshotPoint<A extends AnyAggregate> {
  streamId: string;
  /** The stream's version before the command's append. */
  before: number;
  /** The stream's version after it. */
  after: number;
  /** The state at `after`. */
  state: StateOf<A>;
  /** Where a snapshot that cannot be saved is reported (handleCommand's `logger`). */
  logger: CommandLogger | undefined;
}

/**
 * Saves a snapshot when an append crossed a multiple of `snapshots.every`. Never throws
 * for the snapshot's sake: the command's events are committed (or, in a transaction, will
 * be with it), and a caller told that the command failed would retry it, applying it
 * twice (issue 11). A snapshot that cannot be saved is logged and counted
 * (`aggregate.snapshotCounts.failed`); the next load replays a few more events.
 */
export async function saveSnapshot<A extends AnyAggregate>(session: EventStoreSession, aggregate: A, at: SnapshotPoint<A>): Promise<void> {
  const { state, logger } = at;
  const policy = aggregate.snapshots;
  if (!policy || Math.floor(at.after / policy.every) === Math.floor(at.before / policy.every)) return;
  const counts = aggregate.snapshotCounts as SnapshotCounts;
  const failed = (error: unknown) => {
    counts.failed++;
    report(logger, error, { aggregate: aggregate.category, streamId: at.streamId, streamVersion: at.after, snapshotVersion: policy.version });
  };
  let data: unknown;
  try {
    data = snapshotDataOf(aggregate.category, policy, state, `the state at version ${at.after} of stream '${at.streamId}'`);
  } catch (error) {
    return failed(error);
  }
  // In the caller's transaction, a failed statement would abort the whole transaction,
  // command included: a savepoint confines the failure to the snapshot. A savepoint that
  // cannot be set or rolled back means the transaction is lost anyway (a dropped
  // connection): then the error goes on, and nothing of the command commits.
  const tx = transactionOf(session);
  if (tx) await tx.query('SAVEPOINT annals_snapshot');
  try {
    await session.writeSnapshot(at.streamId, { snapshotVersion: policy.version, streamVersion: at.after, state: data }, { loadedVersion: at.before });
  } catch (error) {
    if (tx) {
      await tx.query('ROLLBACK TO SAVEPOINT annals_snapshot').catch(() => {
        throw error;
      });
    }
    return failed(error);
  }
  if (tx) await tx.query('RELEASE SAVEPOINT annals_snapshot');
  counts.written++;
}

function report(logger: CommandLogger | undefined, error: unknown, details: { aggregate: string; streamId: string; streamVersion: number; snapshotVersion: number }): void {
  const message = 'snapshot not saved; the command succeeded, and loads replay the events since the previous snapshot';
  try {
    if (logger) logger.warn({ err: error, ...details }, message);
    else {
      process.emitWarning(`${message}: aggregate '${details.aggregate}', stream '${details.streamId}', version ${details.streamVersion}: ${messageOf(error)}`, {
        type: 'AnnalsSnapshotWarning',
      });
    }
  } catch {
    // A logger that throws must not fail a committed command either.
  }
}

/** The caller's transaction, when `session` is one (it runs raw SQL; the store does not). */
function transactionOf(session: EventStoreSession): EventStoreTransaction | undefined {
  const candidate = session as Partial<EventStoreTransaction & EventStore>;
  return typeof candidate.withTransaction !== 'function' && typeof candidate.query === 'function' ? (session as EventStoreTransaction) : undefined;
}

/** Path of the first string (value or key) in JSON data that `jsonb` refuses; none if all fit. */
function unstorableStringIn(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() && !value.includes('\u0000') ? undefined : path;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = unstorableStringIn(item, `${path}[${index}]`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const field = /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      if (!key.isWellFormed() || key.includes('\u0000')) return field;
      const found = unstorableStringIn(item, field);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * `value` with what JSON cannot tell apart made equal: properties holding `undefined`
 * dropped (an optional field left unset), `-0` as `0`, prototype-less objects as plain
 * ones. Everything else, Maps, Sets and class instances included, is compared as it is.
 */
function comparable(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (Object.is(value, -0)) return 0;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(comparable(item, seen));
    return copy;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const [key, item] of Object.entries(value)) if (item !== undefined) copy[key] = comparable(item, seen);
  return copy;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
