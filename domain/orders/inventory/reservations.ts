import { handleCommand, loadAggregate, ValidationError, type EventStoreTransaction, type HandleCommandOptions } from 'annals';
import type { z } from 'zod';
import { releaseStockRequest, reserveStockRequest, type ReleaseStockRequest, type ReserveStockRequest } from './inventory.commands.js';
import type { ReservationLine, Shortage } from './inventory.events.js';
import { availableStock, stockItem } from './stock-item.aggregate.js';
import { ReservationAlreadyDecided, stockReservation, type ReservationStatus } from './stock-reservation.aggregate.js';

export interface InventoryCommandOptions {
  /** Makes the request idempotent: repeated with the same id, it appends nothing twice. */
  commandId?: string;
  /** Stamped on every event appended, so the caller can tell which of its processes they belong to. */
  correlationId?: string;
}

/**
 * Reserves every line or none, under `reservationId`: holds each sku's units on its
 * `stock-<sku>` stream, then records the outcome (StockReserved or
 * StockReservationFailed with the shortages) on `stock_reservation-<reservationId>`.
 *
 * Several streams change together, so this takes a transaction: the holds and the
 * outcome commit together or not at all. Streams are always locked in the same order
 * (skus sorted, then the reservation) so two reservations never deadlock.
 *
 * Repeating a request (same reservation id, same lines) appends nothing and returns the
 * outcome decided the first time. If another transaction takes the units between the
 * availability check and the hold, this throws InsufficientStock: let the transaction
 * roll back and retry; the retry finds the shortage and records the failure.
 *
 * @throws ValidationError for a malformed request.
 * @throws ReservationAlreadyDecided when the reservation id was used for other lines.
 * @throws InsufficientStock when stock was taken concurrently (retry, as above).
 *
 * @example
 * ```ts
 * const status = await store.withTransaction((tx) =>
 *   reserveStock(tx, { reservationId: 'r-1', lines: [{ sku: 'pen', quantity: 2 }] }, { commandId: requestId }),
 * );
 * ```
 */
export async function reserveStock(
  tx: EventStoreTransaction,
  request: ReserveStockRequest,
  options: InventoryCommandOptions = {},
): Promise<Exclude<ReservationStatus, 'none'>> {
  const { reservationId, lines } = parseRequest(reserveStockRequest, request);
  const wanted = bySku(lines);
  const commandOptions = toHandleOptions(options);

  const existing = (await loadAggregate(tx, stockReservation, reservationId)).state;
  if (existing.status !== 'none') {
    // A repeat: the first outcome stands. Deciding afresh would count this reservation's
    // own holds as taken and find a shortage.
    if (JSON.stringify(bySku(existing.lines)) !== JSON.stringify(wanted)) {
      throw new ReservationAlreadyDecided(reservationId, existing.status);
    }
    return existing.status;
  }

  const shortages: Shortage[] = [];
  for (const line of wanted) {
    const available = availableStock((await loadAggregate(tx, stockItem, line.sku)).state);
    if (available < line.quantity) shortages.push({ sku: line.sku, requested: line.quantity, available });
  }
  if (shortages.length > 0) {
    const recorded = await handleCommand(
      tx,
      stockReservation,
      reservationId,
      { type: 'RecordReservationFailure', data: { reservationId, lines: wanted, shortages }, id: options.commandId },
      commandOptions,
    );
    // The state, not the branch taken: a concurrent repeat of this command may have
    // recorded the outcome first, and handleCommand then answers with that one.
    return settled(recorded.state.status);
  }

  for (const { sku, quantity } of wanted) {
    // Decided again on the sku's latest version: units taken since the check above
    // make this throw InsufficientStock, and the caller's rollback undoes every hold.
    await handleCommand(tx, stockItem, sku, { type: 'HoldStock', data: { sku, reservationId, quantity }, id: options.commandId }, commandOptions);
  }
  const recorded = await handleCommand(
    tx,
    stockReservation,
    reservationId,
    { type: 'RecordReservation', data: { reservationId, lines: wanted }, id: options.commandId },
    commandOptions,
  );
  return settled(recorded.state.status);
}

function settled(status: ReservationStatus): Exclude<ReservationStatus, 'none'> {
  if (status === 'none') throw new TypeError('a reservation was recorded but its state says none');
  return status;
}

/**
 * Ends a reservation's holds: each sku's units become available again, and the
 * reservation records StockReleased. The compensation for a reservation that is no
 * longer wanted. Releasing a released reservation changes nothing, so it is safe to
 * repeat. Takes a transaction for the same reasons as {@link reserveStock}, and locks
 * in the same order.
 *
 * @throws ReservationNotHeld when the reservation failed or was never made.
 *
 * @example
 * ```ts
 * await store.withTransaction((tx) => releaseStock(tx, { reservationId: 'r-1' }, { commandId: requestId }));
 * ```
 */
export async function releaseStock(
  tx: EventStoreTransaction,
  request: ReleaseStockRequest,
  options: InventoryCommandOptions = {},
): Promise<void> {
  const { reservationId } = parseRequest(releaseStockRequest, request);
  const commandOptions = toHandleOptions(options);
  const { lines } = (await loadAggregate(tx, stockReservation, reservationId)).state;
  for (const { sku } of bySku(lines)) {
    await handleCommand(tx, stockItem, sku, { type: 'ReleaseHold', data: { sku, reservationId }, id: options.commandId }, commandOptions);
  }
  // Last, as in reserveStock; it also enforces the rule (only a held reservation is
  // released), and when it refuses, the transaction undoes the holds released above.
  await handleCommand(tx, stockReservation, reservationId, { type: 'ReleaseReservation', data: { reservationId }, id: options.commandId }, commandOptions);
}

function bySku(lines: readonly ReservationLine[]): ReservationLine[] {
  return [...lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)).map(({ sku, quantity }) => ({ sku, quantity }));
}

function toHandleOptions({ correlationId }: InventoryCommandOptions): HandleCommandOptions {
  return correlationId === undefined ? {} : { correlationId };
}

/** Zod at the edge, reported the way Annals reports bad input: a ValidationError naming the field. */
function parseRequest<S extends z.ZodType>(schema: S, request: unknown): z.infer<S> {
  const parsed = schema.safeParse(request);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => ({
      // The field paths Annals uses: `request.lines[0].quantity`.
      field: issue.path.reduce<string>((at, key) => (typeof key === 'number' ? `${at}[${key}]` : `${at}.${String(key)}`), 'request'),
      reason: issue.message,
    })),
  );
}
