import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { projectionSubscription } from 'annals/server';
import { orderStatus } from './order-status.projection.js';

const statuses = ['placed', 'stock_reserved', 'confirmed', 'cancelled'] as const;
type Status = (typeof statuses)[number];

interface OrderStatusTables {
  order_status: { order_id: string; status: Status; cancellation_reason: string | null; total: string; updated_at: Date };
}

/**
 * `orderStatus(orderId, after, statuses)`: the order's status each time the order-status
 * projection has applied a change to it, with the position of that change. `statuses`
 * keeps only those (`[confirmed, cancelled]`: tell me when it is settled), evaluated
 * against the projected row. Nothing is pushed for an order never placed, until it is.
 *
 * @example
 * ```graphql
 * subscription { orderStatus(orderId: "o-1", statuses: ["confirmed", "cancelled"]) { status cancellationReason position } }
 * ```
 */
export const orderStatusSubscriptions = projectionSubscription({
  name: 'order-status-subscriptions',
  typeDefs: `"""An order's status, as of a position of the log."""
type OrderStatusUpdate {
  orderId: ID!
  """placed, stock_reserved, confirmed or cancelled."""
  status: String!
  """Why the order was cancelled; null unless it was."""
  cancellationReason: String
  """The order's total in cents, as a decimal string."""
  total: String!
  """When its status last changed (ISO 8601, UTC)."""
  updatedAt: String!
  """The global position the status is as of, as a string: send it as after when reconnecting."""
  position: String!
}

extend type Subscription {
  """
  The order's status after each change (the status now first, unless after is given);
  with statuses, only when the order is in one of them.
  """
  orderStatus(orderId: ID!, after: String, statuses: [String!]): OrderStatusUpdate!
}`,
  field: 'orderStatus',
  projection: orderStatus,
  args: z.object({
    orderId: z.string().min(1, { error: 'must not be empty' }),
    statuses: z
      .array(z.enum(statuses, { error: `must be one of ${statuses.join(', ')}` }))
      .min(1, { error: 'must name at least one status (leave it out for every status)' })
      .nullish(),
  }),
  key: (args) => args.orderId,
  keyOf: (event) => event.data.orderId,
  read: (db: Kysely<OrderStatusTables>, keys) =>
    db
      .selectFrom('order_status')
      .select(['order_id', 'status', 'cancellation_reason', 'total', 'updated_at'])
      .where('order_id', '=', sql<string>`any(${[...keys]}::text[])`)
      .execute(),
  rowKey: (row) => row.order_id,
  filter: (row, args) => row !== undefined && (args.statuses == null || args.statuses.includes(row.status)),
  payload: ({ key, row, position }) =>
    row && {
      orderId: key,
      status: row.status,
      cancellationReason: row.cancellation_reason,
      total: String(row.total),
      updatedAt: row.updated_at.toISOString(),
      position,
    },
});
