import { Kind, type FieldDefinitionNode } from 'graphql';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { EventSchemas } from '../../event-schemas/versioned-event.js';
import { readSchemaOf, type ProjectedEvent, type Projection } from '../../projections/define-projection.js';
import { graphqlPart, parseTypeDefs, type GraphQLPart } from '../../graphql/graphql-part.js';
import { parseClientPosition } from '../read-your-writes.js';
import { parseInput } from '../../validation.js';
import { ProjectionFeed, type FeedSource, type FeedSubscriber } from './projection-feed.js';
import { SubscriberQueue } from './subscriber-queue.js';
import { clientError, subscriptionResolver } from './subscription-field.js';
import { subscriptionHubOf } from './subscription-hub.js';

/** One push of a projection subscription: the row a subscriber follows, as of `position`. */
export interface ProjectionUpdate<Row, Args> {
  /** The key of the row (what `key(args)` gave). */
  key: string;
  /** The row, or undefined when the read model has none for the key (yet, or any more). */
  row: Row | undefined;
  /**
   * The global position, as a string, the row is as of: the position of the change it
   * shows (or, for the first row a subscriber gets, how far the projection has come).
   * What a client passes as `after` when it reconnects.
   */
  position: string;
  /** The subscriber's arguments, parsed (`after` aside). */
  args: Args;
}

export interface ProjectionSubscriptionDefinition<Events extends EventSchemas, Tables, Row, Args, Payload> {
  /** Names the part in composition errors (`like-counts-subscriptions`). */
  name: string;
  /**
   * SDL: the type pushed, and the field, as `extend type Subscription { field(..., after:
   * String): Update! }`. The field must take `after: String`.
   */
  typeDefs: string;
  /** The Subscription field this resolves. */
  field: string;
  /** The projection whose read model is followed. */
  projection: Projection<Events>;
  /** The field's arguments but `after`, parsed: a failure is BAD_USER_INPUT naming the argument. */
  args: z.ZodType<Args>;
  /** The key of the row a subscriber follows. */
  key: (args: Args) => string;
  /** The key of the row an event of the projection changes (undefined: none). */
  keyOf: (event: ProjectedEvent<Events>) => string | undefined;
  /** The rows of these keys, from the projection's live tables: one statement for a round's keys. */
  read: (db: Kysely<Tables>, keys: readonly string[]) => Promise<readonly Row[]>;
  /** The key of a row `read` returned. */
  rowKey: (row: Row) => string;
  /** Whether a subscriber is sent the row, evaluated against the projected row (default: always). */
  filter?: (row: Row | undefined, args: Args) => boolean;
  /** What is pushed; undefined pushes nothing (a row that does not exist, say). */
  payload: (update: ProjectionUpdate<Row, Args>) => Payload | undefined;
}

const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error: 'must be a function' });
const definitionSchema = z.object({
  name: z.string().min(1),
  typeDefs: z.string().min(1),
  field: z.string().regex(/^[_A-Za-z][_0-9A-Za-z]*$/, { error: 'must be a GraphQL field name' }),
  projection: z.custom((value) => typeof value === 'object' && value !== null && typeof (value as { decode?: unknown }).decode === 'function', {
    error: 'must be a projection (defineProjection)',
  }),
  args: z.custom((value) => value instanceof z.ZodType, { error: 'must be a zod schema of the arguments' }),
  key: fn,
  keyOf: fn,
  read: fn,
  rowKey: fn,
  filter: fn.optional(),
  payload: fn,
});

/**
 * A Subscription field that pushes a projection's row each time the projection's
 * checkpoint passes a change to it (for a projection applied inline, once the change is
 * visible to the log's readers; docs/subscriptions.md): a GraphQL part to compose
 * with the others. Every subscriber of the field in a process shares one read of the
 * log and of the rows per change; on reconnection with `after`, a client gets the row if
 * it changed since, then live changes, never a position twice.
 *
 * @throws ValidationError naming `part(<name>).<what>` for a definition that is malformed,
 * or typeDefs without the field or its `after: String` argument.
 *
 * @example
 * ```ts
 * interface Tables { like_counts: { post_id: string; likes: number } }
 * export const postLikesSubscription = projectionSubscription({
 *   name: 'like-counts-subscriptions',
 *   typeDefs: `type PostLikesUpdate { postId: ID! likes: Int! position: String! }
 *     extend type Subscription { postLikes(postId: ID!, after: String): PostLikesUpdate! }`,
 *   field: 'postLikes',
 *   projection: likeCounts,
 *   args: z.object({ postId: z.string().min(1) }),
 *   key: (args) => args.postId,
 *   keyOf: (event) => event.data.postId,
 *   read: (db: Kysely<Tables>, keys) => db.selectFrom('like_counts').selectAll().where('post_id', 'in', keys).execute(),
 *   rowKey: (row) => row.post_id,
 *   payload: ({ key, row, position }) => ({ postId: key, likes: row?.likes ?? 0, position }),
 * });
 * ```
 */
export function projectionSubscription<Events extends EventSchemas, Tables, Row, Args, Payload>(
  definition: ProjectionSubscriptionDefinition<Events, Tables, Row, Args, Payload>,
): GraphQLPart {
  parseInput(definitionSchema, definition, `part(${String((definition as { name?: unknown }).name)})`);
  checkField(definition);
  const { field, projection } = definition;
  const readSchemas = new Map<string, string>();
  const source: FeedSource<Row> = {
    projection,
    keyOf: (event) => definition.keyOf(event as ProjectedEvent<Events>),
    async readRows(tx, keys) {
      let schema = readSchemas.get(tx.schema);
      if (schema === undefined) readSchemas.set(tx.schema, (schema = readSchemaOf(tx.schema, projection)));
      const rows = await definition.read(tx.db.withSchema(schema) as Kysely<Tables>, keys);
      return new Map(rows.map((row) => [definition.rowKey(row), row]));
    },
  };
  const resolver = subscriptionResolver<Payload>(field, async (args, context, connection) => {
    const { after: afterArgument, ...rest } = args;
    const after = parseClientPosition(afterArgument, 'after');
    const parsed = parseInput(definition.args, rest, '');
    const key = definition.key(parsed);
    const { store } = context;
    const hub = subscriptionHubOf(store, connection.log);
    const feed = hub.feed(source, () => new ProjectionFeed(store, source, () => hub.release(source)));
    const limit = connection.limits.maxQueuedMessages;
    const queue: SubscriberQueue<Payload> = new SubscriberQueue<Payload>({
      limit,
      onOverflow: (waiting) =>
        connection.drop(`${waiting} updates of ${field} were waiting unread, more than the ${limit} allowed`, { subscription: field, key, waiting }),
      onEnd: () => {
        feed.remove(subscriber);
        connection.detach(queue);
      },
    });
    const subscriber: FeedSubscriber<Row> = {
      key,
      after,
      offer(row, position) {
        try {
          if (definition.filter && !definition.filter(row, parsed)) return;
          const value = definition.payload({ key, row, position: position.toString(), args: parsed });
          if (value !== undefined) queue.push(value);
        } catch (error) {
          // The definition's own code failed: the subscriber learns it, the log says what.
          queue.fail(clientError(error, field, connection));
        }
      },
      fail: (error) => queue.fail(clientError(error, field, connection)),
    };
    feed.add(subscriber);
    hub.wake();
    return queue;
  });
  return graphqlPart({ name: definition.name, typeDefs: definition.typeDefs, resolvers: { Subscription: { [field]: resolver } } });
}

/** The typeDefs declare the field on Subscription, with `after: String`. */
function checkField(definition: { name: string; typeDefs: string; field: string }): void {
  const where = `part(${definition.name}).typeDefs`;
  const document = parseTypeDefs(definition);
  let found: FieldDefinitionNode | undefined;
  for (const node of document.definitions) {
    if ((node.kind === Kind.OBJECT_TYPE_EXTENSION || node.kind === Kind.OBJECT_TYPE_DEFINITION) && node.name.value === 'Subscription') {
      found ??= node.fields?.find((candidate) => candidate.name.value === definition.field);
    }
  }
  if (!found) {
    throw new ValidationError([{ field: where, reason: `declares no field ${definition.field} on Subscription: add extend type Subscription { ${definition.field}(..., after: String): ... }` }]);
  }
  const after = found.arguments?.find((argument) => argument.name.value === 'after');
  if (!after || after.type.kind !== Kind.NAMED_TYPE || after.type.name.value !== 'String') {
    throw new ValidationError([
      { field: where, reason: `Subscription.${definition.field} must take after: String (the position a reconnecting client got last)` },
    ]);
  }
}
