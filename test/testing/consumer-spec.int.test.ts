import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { stockItem } from '../../domain/orders/inventory/stock-item.aggregate.js';
import { stockReservation } from '../../domain/orders/inventory/stock-reservation.aggregate.js';
import { orderProcessManager, reservationIdFor } from '../../domain/orders/order-process-manager.js';
import { order } from '../../domain/orders/order/order.aggregate.js';
import { defineConsumer } from '../../src/index.js';
import { consumerSpec } from '../../src/testing/index.js';
import { createTestStore } from '../setup/database.js';

const store = await createTestStore('consumer_spec');
const processManager = orderProcessManager();
const lines = [{ sku: 'pen', quantity: 2, unitPrice: 150 }];
const placed = (orderId: string) => ({
  streamId: order.streamId(orderId),
  type: 'OrderPlaced',
  data: { orderId, customerId: 'ada', lines, total: 300 },
});
const received = (quantity: number) => ({ streamId: stockItem.streamId('pen'), type: 'StockReceived', data: { sku: 'pen', quantity } });

describe('consumerSpec', () => {
  it('given the world, when an event, then the commands the process manager sent, on a store left as it was', async () => {
    const before = await store.readAll();
    await consumerSpec(processManager, { store })
      .given([received(5)])
      .when([placed('1')])
      .thenAppended([
        { streamId: stockItem.streamId('pen'), type: 'StockHeld', data: { sku: 'pen', reservationId: reservationIdFor('1'), quantity: 2 } },
        { streamId: stockReservation.streamId(reservationIdFor('1')), type: 'StockReserved' },
      ]);
    expect(await store.readAll()).toEqual(before);
  });

  it('fails when the appended events differ', async () => {
    const spec = consumerSpec(processManager, { store }).given([received(1)]).when([placed('2')]);
    await expect(spec.thenAppended([{ streamId: stockItem.streamId('pen'), type: 'StockHeld' }])).rejects.toThrow(AssertionError);
  });

  it('sees what a short stock makes the process do, and nothing for an event it does not react to', async () => {
    await consumerSpec(processManager, { store })
      .given([received(1)])
      .when([placed('3')])
      .then(({ appended }) => expect(appended.map((event) => event.type)).toEqual(['StockReservationFailed']));
    await consumerSpec(processManager, { store }).when([received(3)]).thenNothing();
  });

  it('surfaces a handler that throws', async () => {
    class Refused extends Error {}
    const refusing = defineConsumer({
      name: 'refusing',
      handle: async () => {
        throw new Refused('no');
      },
    });
    await consumerSpec(refusing, { store }).when([received(1)]).thenThrows(Refused);
    await expect(consumerSpec(processManager, { store }).when([received(1)]).thenThrows(Refused)).rejects.toThrow(AssertionError);
  });
});
