import { randomUUID } from 'node:crypto';
import { ConcurrencyError, DomainError, IdempotencyConflictError, StreamDeletedError } from '../errors.js';
import type { EventStoreSession, NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { parseInput } from '../event-store/validation.js';
import { z } from 'zod';
import { commandFingerprint } from './command-fingerprint.js';
import type { AnyAggregate, Command, CommandInput, CommandsOf, EventsOf, StateOf } from './define-aggregate.js';
import { eventIdFor, findEarlierResult } from './earlier-attempt.js';
import type { DomainEvent, DomainEventInput } from './event-schemas.js';
import { loadAggregate } from './load-aggregate.js';
import { saveSnapshot, type CommandLogger } from './snapshots.js';
import { privateCopy, stateCacheFor, type StateCache } from './state-cache.js';

export interface HandleCommandOptions {
  /** How many times to reload and decide again after a ConcurrencyError (default 10). */
  retries?: number;
  /** Bounds of the jittered, exponential wait between retries, in ms (default 5 to 500). */
  retryDelay?: { min: number; max: number };
  /** Correlation id stamped on every event (default: the command's, else its id). */
  correlationId?: string;
  /** Causation id stamped on every event (default: the command id). */
  causationId?: string;
  /** More metadata for every event: user, tenant, trace id… */
  metadata?: Record<string, unknown>;
  /**
   * Where to report a snapshot that could not be saved (the command still succeeds);
   * pino's logger fits. Default: a process warning (`AnnalsSnapshotWarning`).
   */
  logger?: CommandLogger;
}

export interface CommandResult<A extends AnyAggregate> {
  /** The events the command appended (or had appended, when this was a retry). */
  events: (DomainEvent<EventsOf<A>> & { id: string; version: number; metadata: Record<string, unknown> })[];
  /** The stream's version after the command. */
  nextExpectedVersion: number;
  /** Global position of the last event appended; `null` when the command appended none. */
  globalPosition: bigint | null;
  /** The aggregate's state after the command. */
  state: StateOf<A>;
}

const optionsSchema = z
  .object({
    retries: z.number().int().min(0).max(100).optional(),
    retryDelay: z
      .object({ min: z.number().min(0), max: z.number().min(0) })
      .refine((d) => d.min <= d.max, { error: 'min must be <= max' })
      .optional(),
    correlationId: z.string().min(1).optional(),
    causationId: z.string().min(1).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    logger: z
      .custom<CommandLogger>((value) => typeof (value as Partial<CommandLogger> | null)?.warn === 'function', {
        error: 'must have a warn(details, message) method',
      })
      .optional(),
  })
  .optional();

const commandEnvelopeSchema = z.object(
  {
    type: z.unknown(),
    data: z.unknown(),
    id: z.string().min(1, { error: 'must not be empty' }).max(255).optional(),
    metadata: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
  },
  { error: 'must be an object { type, data, id?, metadata? }' },
);

/**
 * Handles one command: validates it, loads the aggregate (snapshot plus later events),
 * calls `decide`, and appends the new events expecting the version it loaded. When
 * another writer got there first it reloads and decides again, up to `retries` times
 * with jittered backoff; then the ConcurrencyError reaches the caller.
 *
 * With a command `id`, event ids derive from it, so a client retrying the same command
 * (after a timeout, say) appends nothing twice and gets the original answer, even when
 * the retry arrives after later commands changed the state.
 *
 * Works on the store or inside `store.withTransaction` (pass `tx`).
 *
 * Once its events are appended, a command succeeds: a snapshot that cannot be saved is
 * reported to `options.logger` and counted in `aggregate.snapshotCounts`, never thrown.
 *
 * @throws ValidationError for a malformed command (fields like `command.data.amount`).
 * @throws DomainError subclasses from `decide`, unchanged; nothing is written.
 *
 * @example
 * ```ts
 * const { state } = await handleCommand(store, bankAccount, 'acc-1', {
 *   type: 'DepositMoney',
 *   data: { amount: 500 },
 *   id: requestId,
 * });
 * ```
 */
export async function handleCommand<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  id: string,
  input: CommandInput<CommandsOf<A>>,
  options: HandleCommandOptions = {},
): Promise<CommandResult<A>> {
  const envelope = parseInput(commandEnvelopeSchema, input, 'command');
  const command = parseInput(aggregate.commandSchema, { type: envelope.type, data: envelope.data }, 'command');
  const checked = parseInput(optionsSchema, options, 'options') ?? {};
  const retries = checked.retries ?? 10;
  const delay = checked.retryDelay ?? { min: 5, max: 500 };
  const streamId = aggregate.streamId(id);
  const commandId = envelope.id;
  const causationId = checked.causationId ?? commandId ?? randomUUID();
  const metadata = {
    ...checked.metadata,
    ...envelope.metadata,
    correlationId: checked.correlationId ?? (envelope.metadata?.correlationId as string | undefined) ?? causationId,
    causationId,
    // With the command id, a fingerprint of the command itself: a retry must be the same
    // command, and an id reused for a different one is refused, not answered as a retry.
    ...(commandId === undefined ? {} : { commandId, commandHash: commandFingerprint(command) }),
  };

  const cache = stateCacheFor<StateOf<A>>(aggregate, aggregate.cache, session);
  const run: CommandRun<A> = { session, aggregate, id, streamId, command, commandId, metadata, retries, delay, cache, logger: checked.logger };
  const handle = () => decideAndAppend(run);
  return cache ? cache.serialize(streamId, handle) : handle();
}

/** One call of handleCommand, checked. */
interface CommandRun<A extends AnyAggregate> {
  session: EventStoreSession;
  aggregate: A;
  id: string;
  streamId: string;
  command: Command<CommandsOf<A>>;
  commandId: string | undefined;
  metadata: Record<string, unknown>;
  retries: number;
  delay: { min: number; max: number };
  cache: StateCache<StateOf<A>> | undefined;
  logger: CommandLogger | undefined;
}

async function decideAndAppend<A extends AnyAggregate>(run: CommandRun<A>): Promise<CommandResult<A>> {
  const { session, aggregate, id, streamId, command, commandId, metadata, retries, delay, cache } = run;
  const earlierResult = (state: StateOf<A>) => findEarlierResult(session, aggregate, streamId, commandId!, command, state);
  // A command with an id always loads: a retry must be answered as the log has it
  // (findEarlierResult), which a cached state from before the first attempt is not.
  let cached = commandId === undefined ? cache?.take(streamId) : undefined;
  for (let attempt = 0; ; ) {
    // A cached state is a guess (state-cache.ts): only an append guarded by its version
    // is answered from it. Any other outcome is decided again on a fresh load, which is
    // not counted as a retry and does not wait.
    const fromCache = cached !== undefined;
    const loaded = cached ?? (await loadAggregate(session, aggregate, id));
    cached = undefined;
    // What the cache will hold is built from a copy taken before decide and evolve see the
    // state: an evolve that changes it in place would otherwise apply this command's events
    // to the cached state twice (issue 11), and a caller changing the state it is answered
    // with would change the next command's.
    const base = cache ? privateCopy(loaded.state) : undefined;
    const reloadInstead = () => {
      cache?.delete(streamId);
      return fromCache;
    };
    let decided: readonly DomainEventInput<EventsOf<A>>[];
    try {
      const result = aggregate.decide(command, loaded.state);
      decided = Array.isArray(result) ? result : [result as DomainEventInput<EventsOf<A>>];
    } catch (error) {
      if (reloadInstead()) continue;
      // A retried command whose first attempt succeeded may now break a rule ("already
      // liked"): answer with what the first attempt did instead.
      if (error instanceof DomainError && commandId !== undefined) {
        const earlier = await earlierResult(loaded.state);
        if (earlier) return earlier;
      }
      throw error;
    }
    if (decided.length === 0) {
      if (reloadInstead()) continue;
      const earlier = commandId === undefined ? null : await earlierResult(loaded.state);
      return earlier ?? { events: [], nextExpectedVersion: loaded.version, globalPosition: null, state: loaded.state };
    }

    let events: ReturnType<typeof aggregate.eventCodec.encode>;
    try {
      // Without a command id the store chooses the ids (and returns them): ids given by the
      // caller would make it look for an earlier append first, inside a transaction.
      events = aggregate.eventCodec.encode(
        decided,
        () => metadata,
        (index) => (commandId === undefined ? undefined : eventIdFor(streamId, commandId, index)),
      );
    } catch (error) {
      if (reloadInstead()) continue;
      throw error;
    }
    // The state the command answers with, before anything is written: an evolve that
    // throws on the new events fails the command with nothing appended, where after the
    // append it would report a committed command as failed (issue 11). `events` hold the
    // data as parsed by the current schemas (defaults applied), the shape evolve gets
    // when the events are read back. An evolve may change `loaded.state` in place from
    // here on: the paths below that answer with an earlier attempt load afresh.
    let state: StateOf<A>;
    try {
      state = events.reduce(
        (current, event) => aggregate.evolve(current, { type: event.type, data: event.data } as DomainEvent<EventsOf<A>>),
        loaded.state,
      );
    } catch (error) {
      if (reloadInstead()) continue;
      throw error;
    }
    const freshState = async () => (await loadAggregate(session, aggregate, id)).state;
    let appended: Awaited<ReturnType<typeof session.appendToStream>>;
    try {
      appended = await session.appendToStream(streamId, events, { expectedVersion: loaded.version });
    } catch (error) {
      // Inside the caller's transaction, which Postgres has aborted: only retrying the
      // whole transaction helps (a plain append already retried it by itself).
      if (error instanceof ConcurrencyError && error.reason === 'log-order') throw error;
      // Another writer moved the stream on (or deleted it) since the state was cached.
      if ((error instanceof ConcurrencyError || error instanceof StreamDeletedError) && reloadInstead()) continue;
      if (error instanceof IdempotencyConflictError && commandId !== undefined) {
        const earlier = await earlierResult(await freshState());
        if (earlier) return earlier;
      }
      if (!(error instanceof ConcurrencyError) || attempt >= retries) throw error;
      await sleep(jitteredDelay(attempt, delay));
      attempt++;
      continue;
    }

    // The events are appended (committed, or in the caller's transaction): from here on,
    // nothing of Annals' own may report the command as failed, or a caller retrying it
    // without a command id would apply it twice (issue 11).
    const replayed = commandId !== undefined && appended.nextExpectedVersion !== loaded.version + events.length;
    if (replayed) {
      // The store recognized the event ids: an earlier attempt of this command appended
      // them before the version we loaded, so the log's state already includes them.
      // Answer with that attempt rather than applying its events a second time.
      cache?.delete(streamId);
      const earlier = await earlierResult(await freshState());
      if (earlier) return earlier;
    }
    if (cache) {
      // Cached: the state a load would rebuild, from the events as read back from JSON,
      // so the next command decides on exactly that. The answer above stays the same as
      // without a cache.
      const cachedState = replayed || !base ? undefined : stateAsLoaded(aggregate, events, base.state);
      if (cachedState) cache.set(streamId, { state: cachedState.state, version: appended.nextExpectedVersion });
      else cache.delete(streamId);
    }
    await saveSnapshot(session, aggregate, { streamId, before: loaded.version, after: appended.nextExpectedVersion }, state, run.logger);
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
}

/**
 * `base` with `events` applied as a load would apply them: turned into JSON and decoded
 * again. None when an event does not survive the trip (a schema that refuses its own
 * output) or evolve throws on it: the stream is then not cached, and the next load says.
 */
function stateAsLoaded<A extends AnyAggregate>(aggregate: A, events: readonly NewEvent[], base: StateOf<A>): { state: StateOf<A> } | undefined {
  try {
    const decoded = events.map((event) =>
      aggregate.eventCodec.decode({
        type: event.type,
        schemaVersion: event.schemaVersion ?? 1,
        data: JSON.parse(JSON.stringify(event.data)) as unknown,
      } as RecordedEvent),
    );
    return { state: decoded.reduce((current, event) => aggregate.evolve(current, event), base) };
  } catch {
    return undefined;
  }
}

/**
 * Full jitter from the first retry: a random wait between `min` and a ceiling that doubles
 * with each attempt (capped at `max`). Writers that lost the same race then spread out
 * instead of colliding again after the same fixed wait.
 */
function jitteredDelay(attempt: number, { min, max }: { min: number; max: number }): number {
  const ceiling = Math.min(max, min * 2 ** (attempt + 1));
  return min + Math.random() * Math.max(0, ceiling - min);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
