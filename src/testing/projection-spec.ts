import { deepStrictEqual, fail } from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { EventSchemas } from '../event-schemas/versioned-event.js';
import { ValidationError } from '../errors.js';
import type { EventStore } from '../event-store/event-store.js';
import { parseInput } from '../validation.js';
import type { AnyProjection, Projection } from '../projections/define-projection.js';
import { emptySpecLog, recordSpecEvents, type ProjectionSpecEvent, type SpecLogState } from './spec-events.js';
import { assertSpecRows, readSpecRows } from './spec-rows.js';
import { applySpecStep, inSpecTransaction, type SpecSession, type SpecStep } from './spec-transaction.js';

export type { ProjectionSpecEvent, SpecEventPlacement } from './spec-events.js';

/** Where a spec runs. */
export interface ProjectionSpecOptions {
  /**
   * An event store from `createEventStore` (Postgres or PGlite). The spec runs in one
   * transaction on it, rolled back at the end; nothing is appended to its log.
   */
  store: EventStore;
}

/** How a step's events reach the handlers. */
export interface SpecStepOptions {
  /**
   * Deliver them as a rebuild replays history (default false): `replaying` set in the
   * context, and the projection's `replayBatch` used when it has one.
   */
  replaying?: boolean;
}

/** What `then` gets to read the projection's tables with, inside the spec's transaction. */
export interface ProjectionSpecReader {
  /** Kysely aimed at the projection's tables (`db.selectFrom('like_counts')`), as handlers get it. */
  // Kysely<any>: the tables are the projection's own, declared by its `schema`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly db: Kysely<any>;
  /** Raw SQL with `$1` parameters; `search_path` is the projection's schema. */
  query<Row = Record<string, unknown>>(text: string, parameters?: readonly unknown[]): Promise<Row[]>;
  /**
   * Every row of `table`, `bigint` columns as bigints (on pg and PGlite alike), ordered by
   * the first column, then the second, …: ready for `toEqual`.
   * @throws ValidationError when the projection has no such table.
   */
  rows<Row = Record<string, unknown>>(table: string): Promise<Row[]>;
}

/** The assertions that end a spec; each runs the whole spec, in a transaction of its own. */
export interface ProjectionSpecThen {
  /**
   * Runs the spec, then `assert` with the projection's tables, before the rollback. An
   * error from a when-event's handler is thrown as it is.
   */
  then(assert: (read: ProjectionSpecReader) => unknown): Promise<void>;
  /**
   * The projection's `table` holds exactly `rows`, in any order: an AssertionError shows
   * the difference. Each row names every column; `bigint` columns may be given as numbers.
   * @throws ValidationError when the table does not exist, or a row names a column it
   *   does not have or leaves one out.
   */
  thenRows(table: string, rows: readonly object[]): Promise<void>;
  /**
   * Handling the when-events (or decoding them: an EventSchemaError) fails with
   * `errorClass`, and these fields, if given. Errors of the given-events are not caught:
   * they are a broken spec, not the behaviour under test.
   */
  thenThrows(errorClass: abstract new (...args: never[]) => Error, fields?: Record<string, unknown>): Promise<void>;
}

export interface ProjectionSpecGiven<Events extends EventSchemas> {
  /** The events under test, after the given ones in the log. */
  when(events: readonly ProjectionSpecEvent<Events>[], options?: SpecStepOptions): ProjectionSpecThen;
}

export interface ProjectionSpec<Events extends EventSchemas> {
  /** Events already handled when the spec starts; see {@link projectionSpec}. */
  given(events: readonly ProjectionSpecEvent<Events>[], options?: SpecStepOptions): ProjectionSpecGiven<Events>;
  /** `given([])`, then these events. */
  when(events: readonly ProjectionSpecEvent<Events>[], options?: SpecStepOptions): ProjectionSpecThen;
}

const stepOptionsSchema = z.strictObject({ replaying: z.boolean({ error: 'must be true or false' }).optional() }).optional();

function checkArguments(projection: unknown, options: unknown): void {
  const candidate = projection as Partial<AnyProjection> | null;
  if (typeof candidate?.decode !== 'function' || typeof candidate.definition?.schema !== 'function') {
    throw new ValidationError([{ field: 'projection', reason: 'must be what defineProjection returns' }]);
  }
  const store = (options as Partial<ProjectionSpecOptions> | null)?.store;
  if (typeof store?.withTransaction !== 'function') {
    throw new ValidationError([{ field: 'options.store', reason: 'must be an event store from createEventStore' }]);
  }
}

function step(projection: AnyProjection, field: 'given' | 'when', input: { events: unknown; options: unknown; from: SpecLogState }) {
  const { events, options, from } = input;
  const { replaying = false } = parseInput(stepOptionsSchema, options, 'options') ?? {};
  const recorded = recordSpecEvents(projection, events, field, from);
  return { step: { events: recorded.events, replaying } satisfies SpecStep, state: recorded.state };
}

function assertions(store: EventStore, projection: AnyProjection, given: SpecStep, when: SpecStep): ProjectionSpecThen {
  /** The spec up to the when-events, then `finish` with their failure, if any. */
  const run = <T>(finish: (session: SpecSession, failure: { error: unknown } | undefined) => Promise<T>) =>
    inSpecTransaction(store, projection, async (session) => {
      await applySpecStep(projection, session.context, given);
      let failure: { error: unknown } | undefined;
      try {
        await applySpecStep(projection, session.context, when);
      } catch (error) {
        failure = { error };
      }
      return finish(session, failure);
    });
  const tables = (session: SpecSession) => ({ tx: session.tx, schema: session.schema, projection: projection.name });
  const succeeded = (failure: { error: unknown } | undefined) => {
    if (failure) throw failure.error;
  };
  return {
    then(assert: (read: ProjectionSpecReader) => unknown, onRejected?: unknown) {
      // `await spec.when(events)` with no assertion calls then(resolve, reject): run the
      // spec for its errors alone. Handing `resolve` the reader would leave the await
      // hanging on a failure (nobody holds the rejected promise) and give it a reader of
      // a transaction already rolled back.
      if (typeof onRejected === 'function') {
        return run(async (_session, failure) => succeeded(failure)).then(
          () => void assert(undefined as never),
          onRejected as (error: unknown) => void,
        );
      }
      return run(async (session, failure) => {
        succeeded(failure);
        await assert({
          db: session.context.db,
          query: session.context.query,
          rows: (table) => readSpecRows(tables(session), table),
        });
      });
    },
    thenRows(table, rows) {
      return run(async (session, failure) => {
        succeeded(failure);
        await assertSpecRows(tables(session), table, rows);
      });
    },
    async thenThrows(errorClass, fields = {}) {
      const failure = await run(async (_session, failure) => failure);
      const thrown = failure?.error;
      if (!(thrown instanceof errorClass)) {
        const got = failure === undefined ? 'no error' : thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
        fail(`expected ${errorClass.name} from projection '${projection.name}' handling the when-events, got ${got}`);
      }
      for (const [key, value] of Object.entries(fields)) {
        deepStrictEqual((thrown as unknown as Record<string, unknown>)[key], value, `error.${key}`);
      }
    },
  };
}

/**
 * Given / when / then specifications for a projection's handlers, with no worker: given
 * events already handled, when these events are handled, then the projection's tables
 * hold these rows (or a handler refuses). Each assertion runs the spec in one transaction
 * on `store`, rolled back at the end: the projection's tables are created by its `schema`
 * function in a fresh schema of their own, the events are decoded by its schemas and
 * upcasters and applied by its handlers exactly as a worker applies a batch (given events
 * as one batch, when events as the next). No event is appended, and no generation,
 * checkpoint or lease is written, so specs run in parallel and leave nothing behind.
 *
 * Events are written as `decide` returns them (`{ type, data }`), with optional
 * `streamId`, `id`, `version`, `metadata`, `recordedAt`, and `schemaVersion` for data in
 * an older shape. Defaults: one stream (`<category>-1`), versions counted per stream,
 * global positions 1, 2, … through given and when events, fixed ids, and times a second
 * apart from 2025-01-01T00:00:00Z, so rows that keep them can be written out.
 *
 * Both steps are delivered live (`replaying` false) unless told otherwise: given events
 * stand for batches the projection handled before, and building them with the same
 * handlers as the when-events keeps a failure in the code under test. Pass
 * `{ replaying: true }` to a step to test the replay path (`replayBatch`, side effects
 * skipped) instead.
 *
 * @throws ValidationError (from `given`, `when`) for an event of a type the projection
 *   does not handle, of a stream in a category it does not read, or malformed.
 * @example
 * ```ts
 * import { projectionSpec } from 'annals/testing';
 *
 * const spec = projectionSpec(likeCounts, { store });
 * await spec
 *   .given([{ type: 'LikeCreated', data: { postId: 'p1', userId: 'ada' } }])
 *   .when([{ type: 'LikeRemoved', data: { postId: 'p1', userId: 'ada' } }])
 *   .thenRows('like_counts', [{ post_id: 'p1', likes: 0 }]);
 * ```
 */
export function projectionSpec<Events extends EventSchemas>(projection: Projection<Events>, options: ProjectionSpecOptions): ProjectionSpec<Events> {
  checkArguments(projection, options);
  const { store } = options;
  const given = (events: unknown, givenOptions?: SpecStepOptions): ProjectionSpecGiven<Events> => {
    const past = step(projection, 'given', { events, options: givenOptions, from: emptySpecLog });
    return {
      when: (whenEvents, whenOptions) => assertions(store, projection, past.step, step(projection, 'when', { events: whenEvents, options: whenOptions, from: past.state }).step),
    };
  };
  return { given, when: (events, whenOptions) => given([]).when(events, whenOptions) };
}
