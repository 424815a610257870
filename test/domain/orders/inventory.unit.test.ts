import { aggregateSpec } from 'annals/testing';
import { describe, it } from 'vitest';
import { ValidationError } from '../../../src/index.js';
import { HoldConflict, InsufficientStock, stockItem } from '../../../domain/orders/inventory/stock-item.aggregate.js';
import {
  ReservationAlreadyDecided,
  ReservationNotHeld,
  stockReservation,
} from '../../../domain/orders/inventory/stock-reservation.aggregate.js';

describe('the stock of one sku', () => {
  const spec = aggregateSpec(stockItem);
  const received = { type: 'StockReceived', data: { sku: 'pen', quantity: 5 } } as const;
  const heldByR1 = { type: 'StockHeld', data: { sku: 'pen', reservationId: 'r-1', quantity: 3 } } as const;
  const hold = (reservationId: string, quantity: number) => ({ type: 'HoldStock', data: { sku: 'pen', reservationId, quantity } }) as const;

  it('receives goods', () => {
    spec.given([]).when({ type: 'ReceiveStock', data: { sku: 'pen', quantity: 5 } }).then([received]);
  });

  it('holds units that no other reservation holds', () => {
    spec.given([received]).when(hold('r-1', 3)).then([heldByR1]);
    spec.given([received, heldByR1]).when(hold('r-2', 2)).then([{ type: 'StockHeld', data: { sku: 'pen', reservationId: 'r-2', quantity: 2 } }]);
  });

  it('refuses to hold more than is available, counting the other holds', () => {
    spec
      .given([received, heldByR1])
      .when(hold('r-2', 3))
      .thenThrows(InsufficientStock, { code: 'INVENTORY_INSUFFICIENT_STOCK', details: { sku: 'pen', requested: 3, available: 2 } });
    spec.given([]).when(hold('r-1', 1)).thenThrows(InsufficientStock, { details: { sku: 'pen', requested: 1, available: 0 } });
  });

  it('holds once per reservation: a repeat is nothing, another quantity is a conflict', () => {
    spec.given([received, heldByR1]).when(hold('r-1', 3)).thenNothing();
    spec.given([received, heldByR1]).when(hold('r-1', 1)).thenThrows(HoldConflict, { code: 'INVENTORY_HOLD_CONFLICT' });
  });

  it('releases a hold, and its units can be held again', () => {
    const released = { type: 'StockHoldReleased', data: { sku: 'pen', reservationId: 'r-1', quantity: 3 } } as const;
    spec.given([received, heldByR1]).when({ type: 'ReleaseHold', data: { sku: 'pen', reservationId: 'r-1' } }).then([released]);
    spec.given([received, heldByR1, released]).when(hold('r-2', 5)).then([{ type: 'StockHeld', data: { sku: 'pen', reservationId: 'r-2', quantity: 5 } }]);
  });

  it('releasing what is not held changes nothing (compensation may repeat)', () => {
    spec.given([received]).when({ type: 'ReleaseHold', data: { sku: 'pen', reservationId: 'r-1' } }).thenNothing();
  });
});

describe('a reservation of several skus', () => {
  const spec = aggregateSpec(stockReservation);
  const lines = [
    { sku: 'ink', quantity: 1 },
    { sku: 'pen', quantity: 2 },
  ];
  const reserved = { type: 'StockReserved', data: { reservationId: 'r-1', lines } } as const;
  const shortages = [{ sku: 'pen', requested: 2, available: 1 }];
  const failed = { type: 'StockReservationFailed', data: { reservationId: 'r-1', lines, shortages } } as const;
  const release = { type: 'ReleaseReservation', data: { reservationId: 'r-1' } } as const;

  it('records the outcome once: reserved or failed', () => {
    spec.given([]).when({ type: 'RecordReservation', data: { reservationId: 'r-1', lines } }).then([reserved]);
    spec.given([]).when({ type: 'RecordReservationFailure', data: { reservationId: 'r-1', lines, shortages } }).then([failed]);
    for (const history of [[reserved], [failed]]) {
      spec
        .given(history)
        .when({ type: 'RecordReservation', data: { reservationId: 'r-1', lines } })
        .thenThrows(ReservationAlreadyDecided, { code: 'INVENTORY_RESERVATION_ALREADY_DECIDED' });
    }
  });

  it('refuses a sku listed twice', () => {
    spec
      .given([])
      .when({ type: 'RecordReservation', data: { reservationId: 'r-1', lines: [lines[0]!, lines[0]!] } })
      .thenThrows(ValidationError, { field: 'command.data.lines' });
  });

  it('releases a held reservation with its lines, once', () => {
    spec.given([reserved]).when(release).then([{ type: 'StockReleased', data: { reservationId: 'r-1', lines } }]);
    spec.given([reserved, { type: 'StockReleased', data: { reservationId: 'r-1', lines } }]).when(release).thenNothing();
  });

  it('has nothing to release when the reservation failed or was never made', () => {
    spec.given([failed]).when(release).thenThrows(ReservationNotHeld, { code: 'INVENTORY_RESERVATION_NOT_HELD', details: { reservationId: 'r-1', status: 'failed' } });
    spec.given([]).when(release).thenThrows(ReservationNotHeld, { details: { reservationId: 'r-1', status: 'none' } });
  });
});
