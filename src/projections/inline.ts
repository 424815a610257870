import type { AppendOptions, AppendResult, EventStore, EventStoreTransaction, NewEvent, TransactionOptions } from '../event-store/event-store.js';
import { categoryOf } from '../event-store/stream-name.js';
import { ConcurrencyError } from '../errors.js';
import { positionBits } from '../event-store/append-statement.js';
import { applyEvents } from './apply.js';
import type { AnyProjectedEvent, AnyProjection } from './define-projection.js';
import { lockProjection, table } from './generations.js';
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
      for (const projection of projections) await setupProjection(store, projection, { inline: true });
    })().catch((error: unknown) => {
      setUp = undefined;
      throw error;
    }));
  const wrapTransaction = (tx: EventStoreTransaction): EventStoreTransaction =>
    new Proxy(tx, {
      get(target, property, receiver) {
        if (property === 'appendToStream') {
          return (streamId: string, events: readonly NewEvent[], options?: AppendOptions) => appendInline(target, projections, streamId, events, options);
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
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions | undefined,
): Promise<AppendResult> {
  const category = typeof streamId === 'string' ? categoryOf(streamId) : '';
  const types = new Set(Array.isArray(events) ? events.map((event) => event?.type) : []);
  const concerned = projections.filter(
    (p) => (!p.categories || p.categories.includes(category)) && p.eventTypes.some((type) => types.has(type)),
  );
  // Shared, and before the append: a rebuild's switch takes it exclusively, and then
  // knows that every event applied to the old generation is committed (rebuild.ts).
  for (const projection of concerned) await lockProjection(tx, projection.name, 'shared');
  const result = await tx.appendToStream(streamId, events, options);
  if (concerned.length === 0) return result;

  // An idempotent retry returns the earlier append's result and writes nothing: only
  // events this transaction wrote (its id is in their positions) are applied.
  // (The transaction id plus the store's offset is the high part of its positions.)
  const [own] = await tx.query<{ xid: string }>(
    `SELECT (pg_current_xact_id()::text::bigint + xid_offset)::text AS xid FROM ${table(tx.schema, 'global_log')}`,
  );
  const appended = (await tx.readStream(streamId, { fromVersion: result.nextExpectedVersion - events.length + 1 })).filter(
    (event) => (event.globalPosition >> BigInt(positionBits)).toString() === own?.xid,
  );
  if (appended.length === 0) return result;

  const [path] = await tx.query<{ search_path: string }>(`SELECT current_setting('search_path') AS search_path`);
  for (const projection of concerned) {
    const mine = appended.filter(
      (event) => projection.eventTypes.includes(event.type) && (!projection.categories || projection.categories.includes(category)),
    );
    if (mine.length === 0) continue;
    const { live, owed } = await takeOwedOfStream(tx, projection, streamId);
    // No live generation yet: the first build is under way and will include these events.
    if (!live) continue;
    // Only code of the live generation's version writes it: other code (a rolling deploy,
    // a rollback) records what the generation owes, for that code to apply (issue 10).
    if (live.version !== projection.version) {
      await recordOwed(tx, projection.name, live.generation, mine);
      continue;
    }
    // What the stream owed first (earlier appends, by other code), then this append's events.
    const context = await projectionContext(tx, live.schemaName, { replaying: false, generation: live.generation, partition: 0 });
    await applyEvents(projection, [...owed, ...mine.map((event) => projection.decode(event) as AnyProjectedEvent)], context, false);
  }
  await tx.query(`SELECT set_config('search_path', $1, true)`, [path?.search_path ?? 'public']);
  return result;
}
