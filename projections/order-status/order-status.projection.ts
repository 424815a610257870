import { sql } from 'kysely';
import { defineProjection } from 'annals';
import { order } from '../../domain/orders/order/order.aggregate.js';
import { orderEvents } from '../../domain/orders/order/order.events.js';

/** The status each order event moves its order to (OrderPlaced: `placed`). */
const statusAfter = {
  OrderPlaced: 'placed',
  OrderStockReserved: 'stock_reserved',
  OrderConfirmed: 'confirmed',
  OrderCancelled: 'cancelled',
} as const;

/**
 * Where every order is: `order_status(order_id, customer_id, total, status,
 * cancellation_reason, placed_at, updated_at, version)`, from the order stream's own
 * events (the order process moves orders forward with commands, so the order stream
 * tells the whole story; stock and payment events are not needed here).
 *
 * Updates are guarded by the stream `version`, so an event delivered again never moves
 * an order back (a redelivered OrderStockReserved after OrderConfirmed changes nothing).
 *
 * @example
 * ```ts
 * const open = await db.withSchema(readSchemaOf(store.schema, orderStatus)).selectFrom('order_status')
 *   .selectAll().where('status', 'in', ['placed', 'stock_reserved']).execute();
 * ```
 */
export const orderStatus = defineProjection({
  name: 'order-status',
  version: 1,
  events: orderEvents,
  categories: [order.category],
  schema: async (db) => {
    await db.schema
      .createTable('order_status')
      .addColumn('order_id', 'text', (c) => c.primaryKey())
      .addColumn('customer_id', 'text', (c) => c.notNull())
      .addColumn('total', 'bigint', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status IN ('placed', 'stock_reserved', 'confirmed', 'cancelled')`))
      .addColumn('cancellation_reason', 'text')
      .addColumn('placed_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('order_status_customer_idx').on('order_status').columns(['customer_id', 'placed_at']).execute();
  },
  apply: async (event, { db }) => {
    const status = statusAfter[event.type];
    if (event.type === 'OrderPlaced') {
      await db
        .insertInto('order_status')
        .values({
          order_id: event.data.orderId,
          customer_id: event.data.customerId,
          total: event.data.total,
          status,
          cancellation_reason: null,
          placed_at: event.recordedAt,
          updated_at: event.recordedAt,
          version: event.version,
        })
        .onConflict((oc) => oc.column('order_id').doNothing())
        .execute();
      return;
    }
    await db
      .updateTable('order_status')
      .set({
        status,
        updated_at: event.recordedAt,
        version: event.version,
        ...(event.type === 'OrderCancelled' ? { cancellation_reason: event.data.reason } : {}),
      })
      .where('order_id', '=', event.data.orderId)
      .where('version', '<', event.version)
      .execute();
  },
});
