import { sql } from 'kysely';
import { ValidationError } from 'annals';
import { graphqlPart, readModel, type ReadContext } from 'annals/server';
import { order } from '../../domain/orders/order/order.aggregate.js';
import type { orderEvents } from '../../domain/orders/order/order.events.js';
import { orderStatus } from './order-status.projection.js';

type Status = 'placed' | 'stock_reserved' | 'confirmed' | 'cancelled';

interface OrderStatusRow {
  order_id: string;
  customer_id: string;
  /** bigint: pg hands it over as a string. */
  total: string;
  status: Status;
  cancellation_reason: string | null;
  placed_at: Date;
  updated_at: Date;
  version: number;
}

interface OrderStatusTables {
  order_status: OrderStatusRow;
}

const readOrderStatus = readModel<OrderStatusTables>(orderStatus);

/**
 * The status each event of an order's stream moves it to: every one of them is a change
 * of status (an event type added to the order without one here does not compile).
 */
const statusAfter: Record<keyof typeof orderEvents, Status> = {
  OrderPlaced: 'placed',
  OrderStockReserved: 'stock_reserved',
  OrderConfirmed: 'confirmed',
  OrderCancelled: 'cancelled',
};

/** What `order` resolves to; `history` reads the stream up to `version`. */
interface OrderNode {
  id: string;
  customerId: string;
  total: string;
  status: Status;
  cancellationReason: string | null;
  placedAt: string;
  updatedAt: string;
  /** The order stream's version the row reflects: history stops there, so it agrees with `status`. */
  version: number;
}

function orderNode(row: OrderStatusRow): OrderNode {
  return {
    id: row.order_id,
    customerId: row.customer_id,
    total: String(row.total),
    status: row.status,
    cancellationReason: row.cancellation_reason,
    placedAt: row.placed_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

interface StatusChange {
  status: Status;
  at: string;
  reason: string | null;
  position: string;
}

/**
 * The statuses the order went through, oldest first, read from the order's own stream
 * up to the version the order-status row reflects. The stream is the order's history
 * (every event of it is a change of status), so a second table would copy it; bounding
 * the read by the row's version keeps `history` and `status` one answer, never a newer
 * history beside an older status, and read your writes holds for both (the row is read
 * after waiting for the projection). One indexed read of at most four events; a
 * truncated stream (truncateStream) shows what it still holds.
 */
async function historyOf(node: OrderNode, context: ReadContext): Promise<StatusChange[]> {
  const events = await context.store.readStream(order.streamId(node.id), { toVersion: node.version });
  return events.map((recorded) => {
    const event = orderStatus.decode(recorded);
    return {
      status: statusAfter[event.type],
      at: event.recordedAt.toISOString(),
      reason: event.type === 'OrderCancelled' ? event.data.reason : null,
      position: String(event.globalPosition),
    };
  });
}

/**
 * `order(id) { id customerId total status cancellationReason placedAt updatedAt history }`
 * from the order-status projection: null for an order never placed. `status` moves
 * `placed` → `stock_reserved` → `confirmed`, or to `cancelled` (with its reason) as the
 * order process (domain/orders) goes; `history` lists each status with when and the log
 * position, oldest first. `total` is in cents as a decimal string (a sum of lines may
 * pass GraphQL's 32-bit Int).
 *
 * @example
 * ```graphql
 * { order(id: "o-1") { id status history { status at reason } } }
 * ```
 */
export const orderStatusGraphQL = graphqlPart({
  name: 'order-status',
  typeDefs: `"""Where an order is in the order process: placed and stock_reserved are open, confirmed and cancelled final."""
enum OrderStatus {
  placed
  stock_reserved
  confirmed
  cancelled
}

"""One step of an order's life."""
type OrderStatusChange {
  status: OrderStatus!
  """When it happened (ISO 8601, UTC)."""
  at: String!
  """Why the order was cancelled; null for the other statuses."""
  reason: String
  """Global position of the event that made the change, as a string."""
  position: String!
}

"""An order, from the order-status projection."""
type Order {
  id: ID!
  customerId: ID!
  """The order's total in cents, as a decimal string."""
  total: String!
  status: OrderStatus!
  """Why the order was cancelled; null unless it was."""
  cancellationReason: String
  """When the order was placed (ISO 8601, UTC)."""
  placedAt: String!
  """When its status last changed (ISO 8601, UTC)."""
  updatedAt: String!
  """Every status the order has been in, oldest first; the last is status."""
  history: [OrderStatusChange!]!
}

extend type Query {
  """The order, or null when it was never placed."""
  order(id: ID!): Order
}`,
  loaders: {
    Query: {
      // A loader, though a root field: several orders in one request are one read.
      order: async (queries: readonly { params: { id: string } }[], context: ReadContext): Promise<(OrderNode | null | Error)[]> => {
        const ids = [...new Set(queries.map((query) => query.params.id).filter((id) => id !== ''))];
        const rows =
          ids.length === 0
            ? []
            : await readOrderStatus(context, (db) =>
                db.selectFrom('order_status').selectAll().where('order_id', '=', sql<string>`any(${ids}::text[])`).execute(),
              );
        const byId = new Map(rows.map((row) => [row.order_id, row]));
        return queries.map(({ params: { id } }) => {
          if (id === '') return new ValidationError([{ field: 'id', reason: 'must not be empty' }]);
          const row = byId.get(id);
          return row === undefined ? null : orderNode(row);
        });
      },
    },
  },
  resolvers: {
    Order: {
      history: (node: OrderNode, _args: unknown, context: ReadContext) => historyOf(node, context),
    },
  },
});
