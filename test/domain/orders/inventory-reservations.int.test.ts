import { describe, expect, it } from 'vitest';
import { ConcurrencyError, ValidationError, type EventStore } from '../../../src/index.js';
import { releaseStock, reserveStock } from '../../../domain/orders/inventory/reservations.js';
import type { ReserveStockRequest } from '../../../domain/orders/inventory/inventory.commands.js';
import { InsufficientStock, stockItem } from '../../../domain/orders/inventory/stock-item.aggregate.js';
import { ReservationAlreadyDecided, ReservationNotHeld, stockReservation } from '../../../domain/orders/inventory/stock-reservation.aggregate.js';
import { createTestStore } from '../../setup/database.js';
import { countEvents, eventsOf, receiveStock, stockOf, typesOf, unique } from './support/orders.js';

// At the top level, not in beforeAll: createTestStore registers the hooks that close the
// store and drop the schema, and hooks registered while another hook runs never run.
const store: EventStore = await createTestStore('orders_inventory');

const reserve = (request: ReserveStockRequest, commandId?: string) =>
  store.withTransaction((tx) => reserveStock(tx, request, commandId === undefined ? {} : { commandId }));
const release = (reservationId: string, commandId?: string) =>
  store.withTransaction((tx) => releaseStock(tx, { reservationId }, commandId === undefined ? {} : { commandId }));

describe('reserving stock of several skus', () => {
  it('holds every line, or none when one sku is short', async () => {
    const id = unique();
    const [pen, ink] = [`pen-${id}`, `ink-${id}`];
    await receiveStock(store, pen, 5);
    await receiveStock(store, ink, 1);

    expect(await reserve({ reservationId: `short-${id}`, lines: [{ sku: pen, quantity: 2 }, { sku: ink, quantity: 2 }] })).toBe('failed');
    expect(await typesOf(store, stockItem.streamId(pen))).toEqual(['StockReceived']);
    const [failed] = await eventsOf(store, stockReservation.streamId(`short-${id}`));
    expect(failed).toMatchObject({ type: 'StockReservationFailed', data: { shortages: [{ sku: ink, requested: 2, available: 1 }] } });

    expect(await reserve({ reservationId: `ok-${id}`, lines: [{ sku: pen, quantity: 2 }, { sku: ink, quantity: 1 }] })).toBe('reserved');
    expect(await stockOf(store, pen)).toEqual({ onHand: 5, available: 3 });
    expect(await stockOf(store, ink)).toEqual({ onHand: 1, available: 0 });
  });

  it('answers a repeated request with the first outcome and appends nothing; another request under the same id is refused', async () => {
    const id = unique();
    const pen = `pen-${id}`;
    await receiveStock(store, pen, 2);
    const request = { reservationId: `r-${id}`, lines: [{ sku: pen, quantity: 2 }] };
    expect(await reserve(request, `cmd-${id}`)).toBe('reserved');
    const before = await countEvents(store);

    // The units are all held now: decided afresh, the request would fail.
    expect(await reserve(request, `cmd-${id}`)).toBe('reserved');
    expect(await reserve(request)).toBe('reserved');
    expect(await countEvents(store)).toBe(before);
    await expect(reserve({ reservationId: `r-${id}`, lines: [{ sku: pen, quantity: 1 }] })).rejects.toThrow(ReservationAlreadyDecided);
  });

  it('rejects a malformed request naming the field', async () => {
    await expect(reserve({ reservationId: 'r', lines: [{ sku: 'pen', quantity: 0 }] })).rejects.toMatchObject({
      constructor: ValidationError,
      field: 'request.lines[0].quantity',
    });
  });

  it('releases a reservation once; a failed one has nothing to release', async () => {
    const id = unique();
    const pen = `pen-${id}`;
    await receiveStock(store, pen, 3);
    await reserve({ reservationId: `r-${id}`, lines: [{ sku: pen, quantity: 3 }] });
    await release(`r-${id}`, `release-${id}`);
    expect(await stockOf(store, pen)).toEqual({ onHand: 3, available: 3 });
    const before = await countEvents(store);
    await release(`r-${id}`, `release-${id}`);
    await release(`r-${id}`);
    expect(await countEvents(store)).toBe(before);
    expect(await typesOf(store, stockReservation.streamId(`r-${id}`))).toEqual(['StockReserved', 'StockReleased']);

    expect(await reserve({ reservationId: `big-${id}`, lines: [{ sku: pen, quantity: 4 }] })).toBe('failed');
    await expect(release(`big-${id}`)).rejects.toThrow(ReservationNotHeld);
  });

  it('never holds more than is on hand, with many reservations racing for the last units', async () => {
    const id = unique();
    const [pen, ink] = [`pen-${id}`, `ink-${id}`];
    await receiveStock(store, pen, 5);
    await receiveStock(store, ink, 5);

    // Some list the skus in the other order: locks are still taken in sku order, so no
    // two transactions wait on each other (a deadlock would fail this test).
    const requests = Array.from({ length: 12 }, (_, i) => ({
      reservationId: `r-${id}-${i}`,
      lines: i % 2 ? [{ sku: pen, quantity: 1 }, { sku: ink, quantity: 1 }] : [{ sku: ink, quantity: 1 }, { sku: pen, quantity: 1 }],
    }));
    const outcomes = await Promise.all(requests.map((request) => reserveRetrying(request)));

    expect(outcomes.filter((o) => o === 'reserved')).toHaveLength(5);
    expect(outcomes.filter((o) => o === 'failed')).toHaveLength(7);
    expect(await stockOf(store, pen)).toEqual({ onHand: 5, available: 0 });
    expect(await stockOf(store, ink)).toEqual({ onHand: 5, available: 0 });
    const holders = (await eventsOf(store, stockItem.streamId(pen))).filter((e) => e.type === 'StockHeld').map((e) => (e.data as { reservationId: string }).reservationId);
    expect(holders.sort()).toEqual(requests.filter((_, i) => outcomes[i] === 'reserved').map((r) => r.reservationId).sort());
  });
});

/**
 * As reserveStock's contract says: when another transaction takes the units between the
 * check and the hold (or wins every retry of a conflict), roll back and try again.
 */
async function reserveRetrying(request: ReserveStockRequest): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await reserve(request, `reserve-${request.reservationId}`);
    } catch (error) {
      const raced = error instanceof InsufficientStock || error instanceof ConcurrencyError;
      if (!raced || attempt >= 20) throw error;
    }
  }
}
