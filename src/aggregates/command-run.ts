import { backoffDelay, sleep, type BackoffOptions } from '../backoff.js';
import { ConcurrencyError, DomainError, IdempotencyConflictError, StreamDeletedError } from '../errors.js';
import type { AppendResult, EventStoreSession, NewEvent } from '../event-store/event-store.js';
import type { AnyAggregate, Command, CommandsOf, EventsOf, StateOf } from './define-aggregate.js';
import { eventIdFor, findEarlierResult } from './earlier-attempt.js';
import type { DomainEvent, DomainEventInput } from '../event-schemas/versioned-event.js';
import type { CommandResult } from './handle-command.js';
import { loadAggregate, type LoadedAggregate } from './load-aggregate.js';
import { privateCopy } from './private-copy.js';
import { saveSnapshot, type CommandLogger } from './snapshots.js';
import { rememberState, type StateCache } from './state-cache.js';

// How handleCommand runs a command, once its input is checked (handle-command.ts):
// load → decide → evolve → append → snapshot. Two outcomes send it round again: a state
// taken from the cache that a fresh load must confirm, and an append that lost a race
// with another writer (retried after a wait). A command with an id that was handled
// before is answered as it was then (earlier-attempt.ts).

/** One call of handleCommand, its input checked. */
export interface CommandRun<A extends AnyAggregate> {
  session: EventStoreSession;
  aggregate: A;
  id: string;
  streamId: string;
  command: Command<CommandsOf<A>>;
  commandId: string | undefined;
  /** Stamped on every event. */
  metadata: Record<string, unknown>;
  /** How many times to retry an append that lost a race. */
  retries: number;
  /** Bounds of the wait before each retry. */
  retryDelay: BackoffOptions;
  /** The store's cache of this aggregate; none without a policy, or in a transaction. */
  cache: StateCache<StateOf<A>> | undefined;
  logger: CommandLogger | undefined;
}

/** How one attempt at the command ended. */
type Attempt<A extends AnyAggregate> =
  | { outcome: 'answered'; result: CommandResult<A> }
  /** Decided on a cached state, which a fresh load must confirm: no retry, no wait. */
  | { outcome: 'reload' }
  /** The append lost a race with another writer: retried after a wait. */
  | { outcome: 'conflict'; error: ConcurrencyError };

const reload = { outcome: 'reload' } as const;
const answered = <A extends AnyAggregate>(result: CommandResult<A>): Attempt<A> => ({ outcome: 'answered', result });

/**
 * Runs the command until it is answered: from the cached state when there is one, then
 * on fresh loads, retrying a lost race up to `run.retries` times.
 *
 * @throws ConcurrencyError once the retries are spent.
 */
export async function runCommand<A extends AnyAggregate>(run: CommandRun<A>): Promise<CommandResult<A>> {
  // A command with an id always loads: a retry must be answered as the log has it
  // (earlier-attempt.ts), which a cached state from before the first attempt is not.
  let cached = run.commandId === undefined ? run.cache?.take(run.streamId) : undefined;
  for (let retried = 0; ; ) {
    const attempt = await attemptCommand(run, cached);
    cached = undefined;
    if (attempt.outcome === 'answered') return attempt.result;
    if (attempt.outcome === 'conflict') {
      if (retried >= run.retries) throw attempt.error;
      retried++;
      // The first retry waits as backoffDelay's attempt 1 (up to twice retryDelay.min),
      // the n-th as attempt n: the waits handleCommand always had.
      await sleep(backoffDelay(retried, run.retryDelay));
    }
  }
}

/** Load (or take `cached`) → decide → evolve → append → snapshot, once. */
async function attemptCommand<A extends AnyAggregate>(run: CommandRun<A>, cached: LoadedAggregate<StateOf<A>> | undefined): Promise<Attempt<A>> {
  const { session, aggregate, streamId, cache } = run;
  // A forget (clearStateCaches) while this command runs: what it loaded may hold the
  // erased fields, and must not go back into the cache.
  const generation = cache?.generation;
  // A cached state is a guess (state-cache.ts): only an append guarded by its version is
  // answered from it. Any other outcome is decided again on a fresh load, which is not
  // counted as a retry and does not wait.
  const loaded = cached ?? (await loadAggregate(session, aggregate, run.id));
  // What the cache will hold is built from a copy taken before decide and evolve see the
  // state: an evolve that changes it in place would otherwise apply this command's events
  // to the cached state twice (issue 11), and a caller changing the state it is answered
  // with would change the next command's.
  const base = cache ? privateCopy(loaded.state) : undefined;
  // Every failure leaves the stream uncached; one decided on a cached state is decided
  // again on a fresh load rather than answered.
  const reloadInstead = () => {
    cache?.delete(streamId);
    return cached !== undefined;
  };

  let decided: readonly DomainEventInput<EventsOf<A>>[];
  try {
    decided = decide(run, loaded.state);
  } catch (error) {
    if (reloadInstead()) return reload;
    // A retried command whose first attempt succeeded may now break a rule ("already
    // liked"): answer with what the first attempt did instead.
    const earlier = error instanceof DomainError ? await earlierAttempt(run, () => loaded.state) : null;
    if (earlier) return answered(earlier);
    throw error;
  }
  if (decided.length === 0) {
    if (reloadInstead()) return reload;
    const earlier = await earlierAttempt(run, () => loaded.state);
    return answered(earlier ?? { events: [], nextExpectedVersion: loaded.version, globalPosition: null, state: loaded.state });
  }

  // The state the command answers with, before anything is written: an evolve that
  // throws on the new events fails the command with nothing appended, where after the
  // append it would report a committed command as failed (issue 11). `events` hold the
  // data as parsed by the current schemas (defaults applied), the shape evolve gets when
  // the events are read back. An evolve may change `loaded.state` in place from here on:
  // the paths below that answer with an earlier attempt load afresh.
  let events: NewEvent[];
  let state: StateOf<A>;
  try {
    events = encode(run, decided);
    state = events.reduce(
      (current, event) => aggregate.evolve(current, { type: event.type, data: event.data } as DomainEvent<EventsOf<A>>),
      loaded.state,
    );
  } catch (error) {
    if (reloadInstead()) return reload;
    throw error;
  }

  let appended: AppendResult;
  try {
    appended = await session.appendToStream(streamId, events, { expectedVersion: loaded.version });
  } catch (error) {
    return afterRefusedAppend(run, error, reloadInstead);
  }

  // The events are appended (committed, or in the caller's transaction): from here on,
  // nothing of Annals' own may report the command as failed, or a caller retrying it
  // without a command id would apply it twice (issue 11).
  const replayed = run.commandId !== undefined && appended.nextExpectedVersion !== loaded.version + events.length;
  if (replayed) {
    // The store recognized the event ids: an earlier attempt of this command appended
    // them before the version we loaded, so the log's state already includes them.
    // Answer with that attempt rather than applying its events a second time.
    cache?.delete(streamId);
    const earlier = await earlierAttempt(run, () => freshState(run));
    if (earlier) return answered(earlier);
  }
  if (cache) {
    // Cached: the state a load would rebuild, so the next command decides on exactly
    // that. The answer below stays the same as without a cache.
    rememberState(cache, { aggregate, streamId, events, base: replayed || cache.generation !== generation ? undefined : base, version: appended.nextExpectedVersion });
  }
  await saveSnapshot(session, aggregate, { streamId, before: loaded.version, after: appended.nextExpectedVersion, state, logger: run.logger });
  return answered(resultOf<A>(events, appended, state));
}

/** `decide`'s events, as a list. */
function decide<A extends AnyAggregate>(run: CommandRun<A>, state: StateOf<A>): readonly DomainEventInput<EventsOf<A>>[] {
  const result = run.aggregate.decide(run.command, state);
  return Array.isArray(result) ? result : [result as DomainEventInput<EventsOf<A>>];
}

/** The decided events as the store takes them: parsed by their schemas, with metadata and ids. */
function encode<A extends AnyAggregate>(run: CommandRun<A>, decided: readonly DomainEventInput<EventsOf<A>>[]): NewEvent[] {
  const { commandId, streamId, metadata } = run;
  // Without a command id the store chooses the ids (and returns them): ids given by the
  // caller would make it look for an earlier append first, inside a transaction.
  return run.aggregate.eventCodec.encode(
    decided,
    () => metadata,
    (index) => (commandId === undefined ? undefined : eventIdFor(streamId, commandId, index)),
  );
}

/**
 * What a refused append means: reload (a cached state gone stale), the answer of an
 * earlier attempt of the command, or a race to retry; anything else is thrown.
 */
async function afterRefusedAppend<A extends AnyAggregate>(run: CommandRun<A>, error: unknown, reloadInstead: () => boolean): Promise<Attempt<A>> {
  // Inside the caller's transaction, which Postgres has aborted: only retrying the whole
  // transaction helps (a plain append already retried it by itself).
  if (error instanceof ConcurrencyError && error.reason === 'log-order') throw error;
  // Another writer moved the stream on (or deleted it) since the state was cached.
  if ((error instanceof ConcurrencyError || error instanceof StreamDeletedError) && reloadInstead()) return reload;
  if (error instanceof IdempotencyConflictError) {
    const earlier = await earlierAttempt(run, () => freshState(run));
    if (earlier) return answered(earlier);
  }
  if (error instanceof ConcurrencyError) return { outcome: 'conflict', error };
  throw error;
}

/**
 * The idempotent path, "this command was already handled": when the command has an id
 * and an earlier attempt of it appended events, the answer that attempt got, with the
 * state `stateNow` gives (read before the lookup). `null` otherwise: the command is new.
 */
async function earlierAttempt<A extends AnyAggregate>(
  run: CommandRun<A>,
  stateNow: () => StateOf<A> | Promise<StateOf<A>>,
): Promise<CommandResult<A> | null> {
  if (run.commandId === undefined) return null;
  return findEarlierResult({ ...run, commandId: run.commandId }, await stateNow());
}

/** The state as the log has it now: after an evolve that may have changed the loaded one. */
async function freshState<A extends AnyAggregate>(run: CommandRun<A>): Promise<StateOf<A>> {
  return (await loadAggregate(run.session, run.aggregate, run.id)).state;
}

function resultOf<A extends AnyAggregate>(events: readonly NewEvent[], appended: AppendResult, state: StateOf<A>): CommandResult<A> {
  const firstVersion = appended.nextExpectedVersion - events.length + 1;
  return {
    events: events.map((event, index) => ({
      type: event.type,
      data: event.data,
      id: appended.eventIds[index]!,
      version: firstVersion + index,
      metadata: (event.metadata ?? {}) as Record<string, unknown>,
    })) as CommandResult<A>['events'],
    nextExpectedVersion: appended.nextExpectedVersion,
    globalPosition: appended.lastGlobalPosition,
    state,
  };
}
