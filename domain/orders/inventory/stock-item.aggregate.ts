import { defineAggregate, DomainError } from 'annals';
import { stockItemCommands } from './inventory.commands.js';
import { stockItemEvents } from './inventory.events.js';

/** Fewer units are available than a hold asks for. Nothing was held. */
export class InsufficientStock extends DomainError {
  constructor(sku: string, requested: number, available: number) {
    super('INVENTORY_INSUFFICIENT_STOCK', `sku ${sku}: ${requested} requested, ${available} available`, { sku, requested, available });
  }
}

/** The reservation already holds this sku with another quantity: the reservation id was reused. */
export class HoldConflict extends DomainError {
  constructor(sku: string, reservationId: string, held: number, requested: number) {
    super(
      'INVENTORY_HOLD_CONFLICT',
      `sku ${sku}: reservation ${reservationId} already holds ${held}, not ${requested}`,
      { sku, reservationId, held, requested },
    );
  }
}

export interface StockItemState {
  sku: string | null;
  /** Units in the warehouse, held or not. */
  onHand: number;
  /** Units held, by reservation id. */
  holds: Record<string, number>;
}

/** Units on hand that no reservation holds. */
export function availableStock(state: StockItemState): number {
  return state.onHand - Object.values(state.holds).reduce((sum, quantity) => sum + quantity, 0);
}

/**
 * The stock of one sku: stream `stock-<sku>`. The consistency boundary for "never hold
 * more than is on hand": every hold is decided against the stream's current version,
 * so two holds racing for the last units cannot both succeed (the loser reloads and
 * decides again). It knows reservations only by id.
 *
 * @example
 * ```ts
 * await handleCommand(store, stockItem, 'pen', { type: 'ReceiveStock', data: { sku: 'pen', quantity: 100 } });
 * ```
 */
export const stockItem = defineAggregate({
  category: 'stock',
  initialState: (): StockItemState => ({ sku: null, onHand: 0, holds: {} }),
  events: stockItemEvents,
  commands: stockItemCommands,
  evolve: (state, event): StockItemState => {
    switch (event.type) {
      case 'StockReceived':
        return { ...state, sku: event.data.sku, onHand: state.onHand + event.data.quantity };
      case 'StockHeld':
        return { ...state, sku: event.data.sku, holds: { ...state.holds, [event.data.reservationId]: event.data.quantity } };
      case 'StockHoldReleased': {
        const { [event.data.reservationId]: _released, ...holds } = state.holds;
        return { ...state, holds };
      }
    }
  },
  decide: (command, state) => {
    switch (command.type) {
      case 'ReceiveStock':
        return { type: 'StockReceived', data: command.data };
      case 'HoldStock': {
        const { sku, reservationId, quantity } = command.data;
        const held = state.holds[reservationId];
        // Holding again what is already held is a repeat, not a second hold.
        if (held === quantity) return [];
        if (held !== undefined) throw new HoldConflict(sku, reservationId, held, quantity);
        const available = availableStock(state);
        if (available < quantity) throw new InsufficientStock(sku, quantity, available);
        return { type: 'StockHeld', data: command.data };
      }
      case 'ReleaseHold': {
        const held = state.holds[command.data.reservationId];
        // Nothing held (never, or released already): nothing to do, so releasing is safe to repeat.
        if (held === undefined) return [];
        return { type: 'StockHoldReleased', data: { ...command.data, quantity: held } };
      }
    }
  },
  // A busy sku's stream grows with every order: load it from a snapshot.
  snapshots: { every: 100, version: 1 },
});
