import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EventStoreSession } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import { commandFingerprint } from './command-fingerprint.js';
import { runCommand, type CommandRun } from './command-run.js';
import type { AnyAggregate, CommandInput, CommandsOf, EventsOf, StateOf } from './define-aggregate.js';
import type { DomainEvent } from '../event-schemas/versioned-event.js';
import type { CommandLogger } from './snapshots.js';
import { stateCacheFor } from './state-cache.js';

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

  // The store's cache of this aggregate, if any: none inside a transaction (state-cache.ts).
  const cache = stateCacheFor<StateOf<A>>(session, aggregate);
  const run: CommandRun<A> = {
    session,
    aggregate,
    id,
    streamId,
    command,
    commandId,
    metadata,
    retries: checked.retries ?? 10,
    retryDelay: { minDelayMs: delay.min, maxDelayMs: delay.max },
    cache,
    logger: checked.logger,
  };
  return cache ? cache.serialize(streamId, () => runCommand(run)) : runCommand(run);
}
