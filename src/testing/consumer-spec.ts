import { deepStrictEqual, fail } from 'node:assert/strict';
import { partitionOfKey } from '../consumers/partition-key.js';
import type { Consumer } from '../consumers/define-consumer.js';
import type { AppendOptions, EventStore, EventStoreTransaction, NewEvent, RecordedEvent } from '../event-store/event-store.js';

/** An event of a consumer spec: appended to its stream as given. */
export interface ConsumerSpecEvent {
  streamId: string;
  type: string;
  data: unknown;
  metadata?: Record<string, unknown>;
  schemaVersion?: number;
}

/** What the handler appended, in order, and the spec's transaction to read more with. */
export interface ConsumerSpecOutcome {
  appended: RecordedEvent[];
  tx: EventStoreTransaction;
}

/** Thrown at the end of a spec, so its transaction rolls back whatever happened. */
class SpecFinished extends Error {}

/**
 * Given / when / then for a consumer that sends commands (a process manager), on a real
 * store, in one transaction that is rolled back: nothing is left behind, and specs run in
 * parallel. `given` events are appended first: the world the consumer acts in (stock
 * received, an account opened), not delivered to it. `when` events are appended, then
 * delivered to the consumer's handler as the engine would (one batch per partition, the
 * batch's transaction as `tx`). `then` sees the events the handler appended.
 *
 * @example
 * ```ts
 * await consumerSpec(orderProcessManager(), { store })
 *   .given([{ streamId: 'stock_item-pen', type: 'StockReceived', data: { sku: 'pen', quantity: 5 } }])
 *   .when([{ streamId: 'order-1', type: 'OrderPlaced', data: { orderId: '1', customerId: 'ada', lines } }])
 *   .thenAppended([{ streamId: 'stock_item-pen', type: 'StockHeld' }, { streamId: 'stock_reservation-order-1', type: 'StockReserved' }]);
 * ```
 */
export function consumerSpec(consumer: Consumer<'transaction'>, { store }: { store: EventStore }) {
  const given = (history: readonly ConsumerSpecEvent[]) => ({
    when: (events: readonly ConsumerSpecEvent[]) => {
      const run = <T>(check: (outcome: ConsumerSpecOutcome) => Promise<T> | T) => runSpec(store, consumer, { history, events }, check);
      return {
        /** Checks the outcome as you like. */
        then: <T>(check: (outcome: ConsumerSpecOutcome) => Promise<T> | T) => run(check),
        /** The handler appended exactly these events, in this order (`data` compared when given). */
        thenAppended: (expected: readonly { streamId: string; type: string; data?: unknown }[]) =>
          run(({ appended }) => {
            const shape = (e: { streamId: string; type: string; data?: unknown }, withData: boolean) =>
              withData ? { streamId: e.streamId, type: e.type, data: e.data } : { streamId: e.streamId, type: e.type };
            deepStrictEqual(
              appended.map((event, index) => shape(event, expected[index]?.data !== undefined)),
              expected.map((event) => shape(event, event.data !== undefined)),
            );
          }),
        /** The handler appended nothing. */
        thenNothing: () => run(({ appended }) => deepStrictEqual(appended, [])),
        /** The handler threw this error class. */
        thenThrows: async (errorClass: abstract new (...args: never[]) => Error) => {
          let thrown: unknown;
          try {
            await run(() => undefined);
          } catch (error) {
            thrown = error;
          }
          if (!(thrown instanceof errorClass)) fail(`expected ${errorClass.name} to be thrown, got ${thrown === undefined ? 'no error' : String(thrown)}`);
        },
      };
    },
  });
  return { given, when: (events: readonly ConsumerSpecEvent[]) => given([]).when(events) };
}

async function runSpec<T>(
  store: EventStore,
  consumer: Consumer<'transaction'>,
  { history, events }: { history: readonly ConsumerSpecEvent[]; events: readonly ConsumerSpecEvent[] },
  check: (outcome: ConsumerSpecOutcome) => Promise<T> | T,
): Promise<T> {
  let result: { value: T } | undefined;
  try {
    await store.withTransaction(async (tx) => {
      for (const event of history) await tx.appendToStream(event.streamId, [toNew(event)]);
      const delivered: RecordedEvent[] = [];
      for (const event of events) {
        const { eventIds } = await tx.appendToStream(event.streamId, [toNew(event)]);
        delivered.push(...(await tx.readEventsById(eventIds)));
      }
      const { session, appendedIds } = recordingAppends(tx);
      const key = consumer.definition.partitionKey ?? ((event: RecordedEvent) => event.streamId);
      const selected = delivered.filter((event) => !consumer.eventTypes || consumer.eventTypes.includes(event.type));
      for (let partition = 0; partition < consumer.partitions; partition++) {
        const batch = selected.filter((event) => consumer.partitions === 1 || partitionOfKey(key(event), consumer.partitions) === partition);
        if (batch.length > 0) await consumer.definition.handle(batch, { tx: session, partition, store });
      }
      const appended = await tx.readEventsById(appendedIds);
      appended.sort((a, b) => (a.globalPosition < b.globalPosition ? -1 : 1));
      result = { value: await check({ appended, tx }) };
      throw new SpecFinished();
    });
  } catch (error) {
    if (!(error instanceof SpecFinished)) throw error;
  }
  return result!.value;
}

const toNew = (event: ConsumerSpecEvent): NewEvent => ({
  type: event.type,
  data: event.data,
  ...(event.metadata ? { metadata: event.metadata } : {}),
  ...(event.schemaVersion !== undefined ? { schemaVersion: event.schemaVersion } : {}),
});

/** The transaction, handed to the handler, noting the ids of every event appended through it. */
function recordingAppends(tx: EventStoreTransaction): { session: EventStoreTransaction; appendedIds: string[] } {
  const appendedIds: string[] = [];
  const session = new Proxy(tx, {
    get(target, property, receiver) {
      if (property === 'appendToStream') {
        return async (streamId: string, events: readonly NewEvent[], options?: AppendOptions) => {
          const result = await target.appendToStream(streamId, events, options);
          for (const id of result.eventIds) if (!appendedIds.includes(id)) appendedIds.push(id);
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { session, appendedIds };
}
