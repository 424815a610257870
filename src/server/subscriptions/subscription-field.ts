import type { FastifyInstance } from 'fastify';
import { GraphQLError, Kind, specifiedRules, validate, type GraphQLResolveInfo } from 'graphql';
import { createErrorFormatter } from '../graphql-errors.js';
import { noIntrospection } from '../introspection.js';
import { trackSubscription, type TrackedSubscription } from '../metrics/service-metrics.js';
import { ServiceErrorCodes } from '../service-errors.js';
import {
  connectionKey,
  refusalKey,
  type SubscriptionConnection,
  type SubscriptionContext,
  type SubscriptionHandle,
} from './subscription-connection.js';

/**
 * What every subscription field of the service does before it streams (the projection
 * subscriptions and the log's): answer with the connection's token refusal, validate the
 * operation, hold a place among the connection's subscriptions, and turn whatever goes
 * wrong into the error a client reads, with `extensions.code` as over HTTP.
 */

/** A subscription that has started: its values, and how to end it from the server side. */
export type StartedSubscription<Payload> = AsyncIterableIterator<Payload> & SubscriptionHandle;

/**
 * Starts a subscription for `args`. It detaches itself from `connection` when it ends
 * (`connection.detach`); what it throws reaches the client as the subscription's error.
 */
export type SubscriptionStart<Payload> = (
  args: Record<string, unknown>,
  context: SubscriptionContext,
  connection: SubscriptionConnection,
) => Promise<StartedSubscription<Payload>>;

/** A Subscription field's resolver, as mercurius takes it: `{ subscribe, resolve }`. */
export interface SubscriptionResolver<Payload> {
  subscribe(root: unknown, args: Record<string, unknown>, context: SubscriptionContext, info: GraphQLResolveInfo): Promise<AsyncIterableIterator<Payload>>;
  resolve(payload: Payload): Payload;
}

export function subscriptionResolver<Payload>(field: string, start: SubscriptionStart<Payload>): SubscriptionResolver<Payload> {
  return {
    async subscribe(_root, args, context, info) {
      const connection = context[connectionKey];
      if (connection === undefined) {
        const message = `${field} is a subscription: open a websocket on /graphql with the graphql-transport-ws protocol`;
        return failing(new GraphQLError(message, { path: [field], extensions: { code: ServiceErrorCodes.badRequest } }));
      }
      let reservation: ReturnType<SubscriptionConnection['reserve']> | undefined;
      try {
        if (context[refusalKey] !== undefined) throw context[refusalKey];
        checkOperation(info, connection.production);
        reservation = connection.reserve();
        const started = await start(args, context, connection);
        reservation.attach(started);
        // mercurius puts the app in every subscription's context: the service's metrics hang on it.
        return counted(started, trackSubscription((context as { app?: FastifyInstance }).app, field), connection);
      } catch (error) {
        reservation?.cancel();
        return failing(clientError(error, field, connection));
      }
    },
    resolve: (payload) => payload,
  };
}

/** The subscription, counted in the service's metrics until it ends, with why it ended. */
function counted<Payload>(started: StartedSubscription<Payload>, tracked: TrackedSubscription, connection: SubscriptionConnection): StartedSubscription<Payload> {
  const ended = () => tracked.end(connection.endReason() ?? 'completed');
  return {
    async next() {
      try {
        const result = await started.next();
        if (result.done === true) ended();
        return result;
      } catch (error) {
        tracked.end('failed');
        throw error;
      }
    },
    async return() {
      ended();
      return started.return ? started.return() : { value: undefined, done: true };
    },
    end: () => started.end(),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * mercurius neither validates a subscription's document nor applies the service's
 * validation rules to it: a misspelt field would be ignored without a word. The
 * operation is validated here, as a query is over HTTP (introspection too is refused in
 * production).
 *
 * @throws GraphQLError `GRAPHQL_VALIDATION_FAILED` with graphql's findings.
 */
function checkOperation(info: GraphQLResolveInfo, production: boolean): void {
  const document = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] } as const;
  const findings = validate(info.schema, document, production ? [...specifiedRules, noIntrospection] : specifiedRules);
  if (findings.length === 0) return;
  const message = findings.map((finding) => finding.message).join('; ');
  const code = findings.find((finding) => typeof finding.extensions.code === 'string')?.extensions.code ?? ServiceErrorCodes.validationFailed;
  throw new GraphQLError(message, { extensions: { code } });
}

/**
 * What the client reads, mapped as the service's error formatter maps a request's errors
 * (graphql-errors.ts: BAD_USER_INPUT with the issues, a refusal's code, nothing internal
 * in production), so a subscription's errors look like a query's.
 */
export function clientError(error: unknown, field: string, connection: SubscriptionConnection): GraphQLError {
  const original = error instanceof Error ? error : new Error(String(error));
  const format = createErrorFormatter(connection.production);
  const formatted = format(
    { data: null, errors: [new GraphQLError(original.message, { originalError: original })] },
    { app: { log: connection.log } },
  ).response.errors[0]!;
  return new GraphQLError(formatted.message, { path: [field], extensions: formatted.extensions ?? { code: ServiceErrorCodes.internal } });
}

/**
 * A subscription that fails on its first read. Returned rather than thrown from
 * `subscribe`: mercurius logs a throw there as a server error, and a client's mistake is
 * not one (the formatter has logged it at the level it deserves).
 */
function failing(error: GraphQLError): AsyncIterableIterator<never> {
  let reported = false;
  return {
    next() {
      if (reported) return Promise.resolve({ value: undefined, done: true });
      reported = true;
      return Promise.reject(error);
    },
    return: () => Promise.resolve({ value: undefined, done: true }),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
