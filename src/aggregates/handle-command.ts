import { createHash, randomUUID } from 'node:crypto';
import { ConcurrencyError, DomainError, IdempotencyConflictError, StreamDeletedError } from '../errors.js';
import type { EventStoreSession, NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { parseInput } from '../event-store/validation.js';
import { z } from 'zod';
import type { AnyAggregate, CommandInput, CommandsOf, EventsOf, StateOf } from './define-aggregate.js';
import type { DomainEvent, DomainEventInput } from './event-schemas.js';
import { loadAggregate } from './load-aggregate.js';
import { stateCacheFor, type StateCache } from './state-cache.js';

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
    ...(commandId === undefined ? {} : { commandId, commandHash: fingerprint(command) }),
  };

  const cache = stateCacheFor<StateOf<A>>(aggregate, aggregate.cache, session);
  const handle = () => decideAndAppend(session, aggregate, id, streamId, command, commandId, metadata, { retries, delay }, cache);
  return cache ? cache.serialize(streamId, handle) : handle();
}

async function decideAndAppend<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  id: string,
  streamId: string,
  command: Parameters<A['decide']>[0],
  commandId: string | undefined,
  metadata: Record<string, unknown> & { commandHash?: string },
  { retries, delay }: { retries: number; delay: { min: number; max: number } },
  cache: StateCache<StateOf<A>> | undefined,
): Promise<CommandResult<A>> {
  // A command with an id always loads: a retry must be answered as the log has it
  // (findEarlierResult), which a cached state from before the first attempt is not.
  let cached = commandId === undefined ? cache?.get(streamId) : undefined;
  for (let attempt = 0; ; ) {
    // A cached state is a guess (state-cache.ts): only an append guarded by its version
    // is answered from it. Any other outcome is decided again on a fresh load, which is
    // not counted as a retry and does not wait.
    const fromCache = cached !== undefined;
    const loaded = cached ?? (await loadAggregate(session, aggregate, id));
    cached = undefined;
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
        const earlier = await findEarlierResult(session, aggregate, streamId, commandId, metadata.commandHash, loaded.state);
        if (earlier) return earlier;
      }
      throw error;
    }
    if (decided.length === 0) {
      if (reloadInstead()) continue;
      const earlier = commandId === undefined ? null : await findEarlierResult(session, aggregate, streamId, commandId, metadata.commandHash, loaded.state);
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
    try {
      const appended = await session.appendToStream(streamId, events, { expectedVersion: loaded.version });
      const replayed = commandId !== undefined && appended.nextExpectedVersion !== loaded.version + events.length;
      if (replayed) {
        // The store recognized the event ids: an earlier attempt of this command appended
        // them before the version we loaded, so `loaded.state` already includes them.
        // Answer with that attempt rather than applying its events a second time.
        cache?.delete(streamId);
        const earlier = await findEarlierResult(session, aggregate, streamId, commandId, metadata.commandHash, loaded.state);
        if (earlier) return earlier;
      }
      // `events` hold the data as parsed by the current schemas (defaults applied): the
      // shape evolve gets when the events are read back.
      const state = events.reduce(
        (current, event) => aggregate.evolve(current, { type: event.type, data: event.data } as DomainEvent<EventsOf<A>>),
        loaded.state,
      );
      if (cache) {
        // Cached: the state a load would rebuild, from the events as read back from JSON,
        // so the next command decides on exactly that. The answer above stays the same as
        // without a cache.
        const readBack = replayed ? undefined : decodedAsStored(aggregate, events);
        if (readBack) {
          const cachedState = readBack.reduce((current, event) => aggregate.evolve(current, event), loaded.state);
          cache.set(streamId, { state: cachedState, version: appended.nextExpectedVersion });
        } else {
          cache.delete(streamId);
        }
      }
      await maybeSnapshot(session, aggregate, streamId, loaded.version, appended.nextExpectedVersion, state);
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
    } catch (error) {
      // Inside the caller's transaction, which Postgres has aborted: only retrying the
      // whole transaction helps (a plain append already retried it by itself).
      if (error instanceof ConcurrencyError && error.reason === 'log-order') throw error;
      // Another writer moved the stream on (or deleted it) since the state was cached.
      if ((error instanceof ConcurrencyError || error instanceof StreamDeletedError) && reloadInstead()) continue;
      if (error instanceof IdempotencyConflictError && commandId !== undefined) {
        const earlier = await findEarlierResult(session, aggregate, streamId, commandId, metadata.commandHash, loaded.state);
        if (earlier) return earlier;
      }
      if (!(error instanceof ConcurrencyError) || attempt >= retries) throw error;
      await sleep(jitteredDelay(attempt, delay));
      attempt++;
    }
  }
}

/**
 * `events` turned into JSON and decoded as a load decodes them; none when one does not
 * survive the trip (a schema that refuses its own output): its state is not cached.
 */
function decodedAsStored<A extends AnyAggregate>(aggregate: A, events: readonly NewEvent[]): DomainEvent<EventsOf<A>>[] | undefined {
  try {
    return events.map((event) =>
      aggregate.eventCodec.decode({
        type: event.type,
        schemaVersion: event.schemaVersion ?? 1,
        data: JSON.parse(JSON.stringify(event.data)) as unknown,
      } as RecordedEvent),
    );
  } catch {
    return undefined;
  }
}

/**
 * The event id of the `index`-th event a command appends: a UUID (version 5 layout) from
 * a SHA-1 of stream, command id and index, so retries of a command reproduce its ids.
 */
export function eventIdFor(streamId: string, commandId: string, index: number): string {
  const bytes = createHash('sha1').update(`annals\u0000${streamId}\u0000${commandId}\u0000${index}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What an earlier attempt of this command appended, as a result; `null` if none. */
async function findEarlierResult<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  streamId: string,
  commandId: string,
  commandHash: string | undefined,
  state: StateOf<A>,
): Promise<CommandResult<A> | null> {
  const found = [];
  // A command appends its events in one batch with ids 0, 1, 2…: fetch them in pages.
  for (let start = 0; ; start += 64) {
    const ids = Array.from({ length: 64 }, (_, i) => eventIdFor(streamId, commandId, start + i));
    const page = await session.readEventsById(ids);
    found.push(...page);
    if (page.length < 64) break;
  }
  if (found.length === 0) return null;
  const earlierHash = found[0]!.metadata.commandHash;
  if (earlierHash !== undefined && earlierHash !== commandHash) {
    throw new IdempotencyConflictError(streamId, found[0]!.id, `command id '${commandId}' was used before for a different command`);
  }
  const last = found.at(-1)!;
  return {
    events: found.map((event) => ({
      ...aggregate.eventCodec.decode(event),
      id: event.id,
      version: event.version,
      metadata: event.metadata,
    })) as CommandResult<A>['events'],
    nextExpectedVersion: last.version,
    globalPosition: last.globalPosition,
    state,
  };
}

/** Saves a snapshot when the append crossed a multiple of `snapshots.every`. */
async function maybeSnapshot<A extends AnyAggregate>(
  session: EventStoreSession,
  aggregate: A,
  streamId: string,
  before: number,
  after: number,
  state: StateOf<A>,
): Promise<void> {
  const policy = aggregate.snapshots;
  if (!policy || Math.floor(after / policy.every) === Math.floor(before / policy.every)) return;
  await session.writeSnapshot(streamId, {
    snapshotVersion: policy.version,
    streamVersion: after,
    state: policy.toSnapshot ? policy.toSnapshot(state) : state,
  });
}

/** A stable digest of a parsed command (zod returns keys in schema order). */
function fingerprint(command: { type: string; data: unknown }): string {
  return createHash('sha1').update(JSON.stringify([command.type, command.data])).digest('base64url');
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
