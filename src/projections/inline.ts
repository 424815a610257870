import type { AppendOptions, AppendResult, EventStore, EventStoreTransaction, NewEvent, TransactionOptions } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { ConcurrencyError } from '../errors.js';
import { applyEvents } from './apply.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { lockProjections, table } from './generations.js';
import { markAppliedInline } from './inline-marks.js';
import { recordOwed, takeOwedOfStream } from './inline-pending.js';
import { projectionContext } from './projection-context.js';
import { setupProjection } from './rebuild.js';

/**
 * The store, with `projections` applied inline: every append made through it (directly,
 * in `withTransaction`, or by `handleCommand`) updates their read models in the same
 * transaction, so they never lag behind the log.
 *
 * Run the same projections in `runProjections` with `inline: [names]` too: workers build
 * the first generation when the log already has events, rebuild them by replay, and
 * apply what the live generation owes. Appends made without this wrapper (another
 * service, a raw store) do not reach inline read models: give every writer the same
 * wrapper.
 *
 * An append applies a projection only when this code's `version` is the live
 * generation's; code of another version (a rolling deploy) records the events as owed
 * by the live generation instead, and code of the live version applies them
 * (inline-pending.ts), so old and new code can run side by side.
 *
 * @example
 * ```ts
 * const store = withInlineProjections(createEventStore(config), [accountBalances]);
 * await handleCommand(store, bankAccount, 'acc-1', { type: 'DepositMoney', data: { amount: 500 } });
 * // accountBalances already shows the deposit
 * ```
 */
export function withInlineProjections(store: EventStore, projections: readonly AnyProjection[]): EventStore {
  // Each projection needs a generation before the first append can be applied to it.
  let setUp: Promise<unknown> | undefined;
  const ready = () =>
    (setUp ??= (async () => {
      for (const projection of projections) {
        await setupProjection(store, projection, { inline: true });
        // Readers that follow the live generation (subscriptions) learn that appends write
        // it, not workers (inline-marks.ts).
        await markAppliedInline(store, projection);
      }
    })().catch((error: unknown) => {
      setUp = undefined;
      throw error;
    }));
  const wrapTransaction = (tx: EventStoreTransaction): EventStoreTransaction =>
    new Proxy(tx, {
      get(target, property, receiver) {
        if (property === 'appendToStream') {
          return (streamId: string, events: readonly NewEvent[], options?: AppendOptions) => appendInline(target, projections, { streamId, events, options });
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'appendToStream') {
        return async (streamId: string, events: readonly NewEvent[], options?: AppendOptions) => {
          await ready();
          // The transaction exists only for this append, so like a plain append it is tried
          // again when a newer transaction appended to the stream first (docs/global-log.md).
          for (let attempt = 1; ; attempt++) {
            try {
              return await target.withTransaction((tx) => wrapTransaction(tx).appendToStream(streamId, events, options));
            } catch (error) {
              if (!(error instanceof ConcurrencyError && error.reason === 'log-order') || attempt >= 20) throw error;
            }
          }
        };
      }
      if (property === 'withTransaction') {
        return async <T>(work: (tx: EventStoreTransaction) => Promise<T>, options?: TransactionOptions) => {
          await ready();
          return target.withTransaction((tx) => work(wrapTransaction(tx)), options);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function appendInline(
  tx: EventStoreTransaction,
  projections: readonly AnyProjection[],
  { streamId, events, options }: { streamId: string; events: readonly NewEvent[]; options: AppendOptions | undefined },
): Promise<AppendResult> {
  const names = projections.map((p) => p.name);
  // Shared, and before the append: a rebuild's switch takes it exclusively, and then
  // knows that every event applied to the old generation, or recorded as owed by it, is
  // committed (rebuild.ts). Every inline projection, not only those whose types this code
  // sees in the append: another version of the projection may handle other types.
  await lockProjections(tx, names);
  const result = await tx.appendToStream(streamId, events, options);
  // An idempotent retry returns the earlier append's result and writes nothing: only
  // events this call wrote are applied (or recorded as owed).
  if (!result.written) return result;

  const { lives, searchPath } = await afterAppend(tx, names);
  const category = categoryOf(streamId);
  const handles = (projection: AnyProjection, type: string) =>
    projection.eventTypes.includes(type) && (!projection.categories || projection.categories.includes(category));
  const types = new Set(events.map((event) => event.type));
  // Code of the live version applies what it handles; code of another version records
  // what the live generation owes, by the live generation's own types (issue 10).
  const concerned = projections.filter((p) => {
    const live = lives.get(p.name);
    return live !== undefined && (live.version !== p.version || [...types].some((type) => handles(p, type)));
  });
  if (concerned.length === 0) return result;

  // The events this call wrote: it holds the stream's row lock since its append, so the
  // stream's last versions are its own.
  const appended = await tx.readStream(streamId, {
    fromVersion: result.nextExpectedVersion - events.length + 1,
    toVersion: result.nextExpectedVersion,
  });
  if (appended.length === 0) return result;

  for (const projection of concerned) {
    const live = lives.get(projection.name)!;
    // Only code of the live generation's version writes it: other code (a rolling deploy,
    // a rollback) records what the generation owes, for that code to apply.
    if (live.version !== projection.version) {
      await recordOwed(tx, projection.name, live.generation, appended);
      continue;
    }
    const mine = appended.filter((event) => handles(projection, event.type));
    if (mine.length === 0) continue;
    const { live: current, owed } = await takeOwedOfStream(tx, projection, streamId);
    if (!current) continue;
    // What the stream owed first (earlier appends, by other code), then this append's events.
    const context = await projectionContext(tx, current.schemaName, { replaying: false, generation: current.generation, partition: 0 });
    await applyEvents(projection, [...owed, ...mine.map((event) => projection.decode(event) as AnyProjectedEvent)], context, false);
  }
  await tx.query(`SELECT set_config('search_path', $1, true)`, [searchPath]);
  return result;
}

/**
 * What an inline append needs once it has appended, in one round trip: the live
 * generation of each projection that has one (none yet: its first build is under way and
 * will include these events), read under the projections' locks, so no switch can change
 * it before this transaction ends; and the search path to restore after the handlers.
 */
async function afterAppend(
  tx: EventStoreTransaction,
  names: readonly string[],
): Promise<{ lives: Map<string, { generation: number; version: number }>; searchPath: string }> {
  const [row] = await tx.query<{ search_path: string; lives: { projection: string; generation: number; version: number }[] | null }>(
    `SELECT current_setting('search_path') AS search_path,
            (SELECT json_agg(json_build_object('projection', g.projection, 'generation', g.generation, 'version', g.version))
               FROM ${table(tx.schema, 'projection_generations')} g
              WHERE g.projection = ANY($1::text[]) AND g.status = 'live') AS lives`,
    [names],
  );
  return {
    lives: new Map((row?.lives ?? []).map((live) => [live.projection, { generation: live.generation, version: live.version }])),
    searchPath: row?.search_path ?? 'public',
  };
}
