import { defineAggregate, DomainError } from 'annals';
import { stockReservationCommands } from './inventory.commands.js';
import { stockReservationEvents, type ReservationLine } from './inventory.events.js';

/** `none`: never requested; `failed` and `released` hold nothing. */
export type ReservationStatus = 'none' | 'reserved' | 'failed' | 'released';

/** A reservation is decided once: reserved or failed. Deciding it again means the id was reused. */
export class ReservationAlreadyDecided extends DomainError {
  constructor(reservationId: string, status: ReservationStatus) {
    super('INVENTORY_RESERVATION_ALREADY_DECIDED', `reservation ${reservationId} is already ${status}`, { reservationId, status });
  }
}

/** Only a reservation that holds stock can be released. */
export class ReservationNotHeld extends DomainError {
  constructor(reservationId: string, status: ReservationStatus) {
    super('INVENTORY_RESERVATION_NOT_HELD', `reservation ${reservationId} is ${status}: it holds no stock to release`, {
      reservationId,
      status,
    });
  }
}

export interface StockReservationState {
  reservationId: string | null;
  status: ReservationStatus;
  lines: ReservationLine[];
}

/**
 * One reservation of several skus: stream `stock_reservation-<reservationId>`. It records
 * the outcome that {@link reserveStock} decided over the skus' stock (StockReserved or
 * StockReservationFailed, exactly once) and its release. Callers follow these events
 * to learn the outcome: one event per reservation, whatever the number of skus.
 *
 * @example
 * ```ts
 * const { state } = await loadAggregate(store, stockReservation, 'r-1');
 * if (state.status === 'reserved') console.log(state.lines);
 * ```
 */
export const stockReservation = defineAggregate({
  category: 'stock_reservation',
  initialState: (): StockReservationState => ({ reservationId: null, status: 'none', lines: [] }),
  events: stockReservationEvents,
  commands: stockReservationCommands,
  evolve: (state, event): StockReservationState => {
    switch (event.type) {
      case 'StockReserved':
        return { reservationId: event.data.reservationId, status: 'reserved', lines: event.data.lines };
      case 'StockReservationFailed':
        return { reservationId: event.data.reservationId, status: 'failed', lines: event.data.lines };
      case 'StockReleased':
        return { ...state, status: 'released' };
    }
  },
  decide: (command, state) => {
    const { reservationId } = command.data;
    switch (command.type) {
      case 'RecordReservation':
        if (state.status !== 'none') throw new ReservationAlreadyDecided(reservationId, state.status);
        return { type: 'StockReserved', data: command.data };
      case 'RecordReservationFailure':
        if (state.status !== 'none') throw new ReservationAlreadyDecided(reservationId, state.status);
        return { type: 'StockReservationFailed', data: command.data };
      case 'ReleaseReservation':
        // Released already: releasing again changes nothing, so compensation can repeat.
        if (state.status === 'released') return [];
        if (state.status !== 'reserved') throw new ReservationNotHeld(reservationId, state.status);
        return { type: 'StockReleased', data: { reservationId, lines: state.lines } };
    }
  },
});
