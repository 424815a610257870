import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { checkSnapshotPolicy, type SnapshotCounts } from './snapshots.js';
import type { StateCachePolicy } from './state-cache.js';
import { EventCodec } from '../event-schemas/event-codec.js';
import type { DomainEvent, DomainEventInput, EventSchemas } from '../event-schemas/versioned-event.js';

/** Command types by name, each a zod schema of its data. */
export type CommandSchemas = Record<string, z.ZodType>;

/** The commands of a schema map as a discriminated union: `{ type: 'Deposit', data: {...} }`. */
export type Command<Commands extends CommandSchemas> = {
  [K in keyof Commands & string]: { type: K; data: z.infer<Commands[K]> };
}[keyof Commands & string];

/** What a caller sends: a command, with an optional command id and metadata. */
export type CommandInput<Commands extends CommandSchemas> = {
  [K in keyof Commands & string]: {
    type: K;
    data: z.input<Commands[K]>;
    /** Makes the command idempotent: a retry with the same id appends nothing twice. */
    id?: string;
    metadata?: Record<string, unknown>;
  };
}[keyof Commands & string];

export interface SnapshotPolicy<State> {
  /** Save a snapshot each time the stream passes a multiple of this many events. */
  every: number;
  /**
   * Version of the snapshot's shape. Bump it whenever `State` or `toSnapshot` changes:
   * snapshots of another version are ignored (the state is rebuilt from events).
   */
  version: number;
  /** State to JSON data (default: the state itself, which must then be JSON data). */
  toSnapshot?: (state: State) => unknown;
  /**
   * JSON data back to state (default: the data itself). `fromSnapshot(toSnapshot(state))`,
   * through JSON, must equal `state`: checked on `initialState()` by `defineAggregate`,
   * and on each state before it is saved (one that fails is not saved; see handleCommand).
   */
  fromSnapshot?: (snapshot: unknown) => State;
}

export interface AggregateDefinition<State, Events extends EventSchemas, Commands extends CommandSchemas> {
  /** Stream category: an aggregate with id `42` lives in stream `${category}-42`. */
  category: string;
  /** The state before any event; a function, so every load starts from a fresh value. */
  initialState: () => State;
  events: Events;
  commands: Commands;
  /** Applies one event to the state. Pure: no I/O, no clock, no randomness. */
  evolve: (state: State, event: DomainEvent<Events>) => State;
  /**
   * Decides what happens: returns the new events (none, one or several), or throws a
   * DomainError subclass when the command breaks a rule. Pure, like `evolve`.
   */
  decide: (command: Command<Commands>, state: State) => DomainEventInput<Events> | readonly DomainEventInput<Events>[];
  snapshots?: SnapshotPolicy<State>;
  /**
   * Keep the states that commands leave behind in this process, for up to `maxStreams`
   * streams, so that the next command on the same stream appends without loading it
   * first; commands of one stream in this process are then handled one at a time.
   * Worth it when one process handles most commands of a stream (a single instance,
   * sticky routing): a stream another process moved on costs a failed append and a
   * reload. Results are those of an uncached handler; the rare ways a cached state can
   * differ from a loaded one are in docs/aggregates.md ("State cache"). Off by default.
   */
  cache?: StateCachePolicy;
}

/** An aggregate made by {@link defineAggregate}: the definition plus its codecs. */
export interface Aggregate<State, Events extends EventSchemas, Commands extends CommandSchemas>
  extends AggregateDefinition<State, Events, Commands> {
  readonly eventCodec: EventCodec<Events>;
  readonly commandSchema: z.ZodType<Command<Commands>>;
  streamId(id: string): string;
  /**
   * Snapshots of this aggregate saved by this process, and those it could not save (each
   * also reported to handleCommand's `logger`): a growing `failed` means loads replay more
   * and more events.
   */
  readonly snapshotCounts: Readonly<SnapshotCounts>;
}

// Any aggregate, whatever its types: for functions that accept every aggregate.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate = Aggregate<any, any, any>;
// `any` in the other positions: State appears in both argument and return positions
// (evolve), so matching it against `unknown` would fail and give `never`.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type StateOf<A> = A extends Aggregate<infer S, any, any> ? S : never;
export type EventsOf<A> = A extends Aggregate<any, infer E, any> ? E : never;
export type CommandsOf<A> = A extends Aggregate<any, any, infer C> ? C : never;
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Defines an aggregate as pure `decide` and `evolve` functions over zod-typed commands
 * and events. Types flow from the schemas: a wrong event type or field in `decide` or
 * `evolve` is a compile error.
 *
 * @throws ValidationError naming `aggregate.<category>.snapshots` when `initialState()`
 *   does not survive a snapshot (a bigint or a Set without `toSnapshot`, say).
 *
 * @example
 * ```ts
 * const counter = defineAggregate({
 *   category: 'counter',
 *   initialState: () => ({ count: 0 }),
 *   events: { Incremented: z.object({ by: z.number().int() }) },
 *   commands: { Increment: z.object({ by: z.number().int().positive() }) },
 *   evolve: (state, event) => ({ count: state.count + event.data.by }),
 *   decide: (command) => ({ type: 'Incremented', data: { by: command.data.by } }),
 * });
 * ```
 */
export function defineAggregate<State, Events extends EventSchemas, Commands extends CommandSchemas>(
  definition: AggregateDefinition<State, Events, Commands>,
): Aggregate<State, Events, Commands> {
  const refuse = (field: string, reason: string): never => {
    throw new ValidationError([{ field: `aggregate.${field}`, reason }]);
  };
  // A '-' would break the category-id convention; be strict so ids stay readable.
  if (typeof definition.category !== 'string' || !/^[A-Za-z0-9_]+$/.test(definition.category)) {
    refuse('category', `'${String(definition.category)}' must be letters, digits and _ only`);
  }
  if (definition.snapshots) {
    const { every, version } = definition.snapshots;
    if (!Number.isInteger(every) || every < 1) refuse('snapshots.every', 'must be a whole number >= 1');
    if (!Number.isInteger(version) || version < 1) refuse('snapshots.version', 'must be a whole number >= 1');
    checkSnapshotPolicy(definition.category, definition.snapshots, definition.initialState);
  }
  if (definition.cache) {
    const { maxStreams } = definition.cache;
    if (!Number.isInteger(maxStreams) || maxStreams < 1) refuse('cache.maxStreams', 'must be a whole number >= 1');
  }
  const commandTypes = Object.keys(definition.commands);
  const commandSchema = z
    .object({
      type: z.string({ error: 'must be a string' }).refine((type) => commandTypes.includes(type), {
        error: `must be one of ${commandTypes.map((t) => `'${t}'`).join(', ')}`,
      }),
      data: z.unknown(),
    })
    .transform((command, context) => {
      const parsed = definition.commands[command.type]!.safeParse(command.data);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          context.addIssue({ code: 'custom', message: issue.message, path: ['data', ...issue.path] });
        }
        return z.NEVER;
      }
      return { type: command.type, data: parsed.data } as Command<Commands>;
    });
  return {
    ...definition,
    eventCodec: new EventCodec(definition.events),
    commandSchema: commandSchema as unknown as z.ZodType<Command<Commands>>,
    streamId: (id: string) => `${definition.category}-${id}`,
    // After the definition: an aggregate spread into another definition gets counts of its own.
    snapshotCounts: { written: 0, failed: 0 },
  };
}
