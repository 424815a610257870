import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RequestTimeoutError } from './service-errors.js';

const controllers = new WeakMap<FastifyRequest, AbortController>();

/**
 * The request's signal: aborts when the request runs past its deadline (the reason is a
 * RequestTimeoutError) or when the client goes away first. Resolvers get it as
 * `context.signal` and pass it on to whatever can stop early.
 */
export function requestSignal(request: FastifyRequest): AbortSignal {
  let controller = controllers.get(request);
  if (controller === undefined) {
    controller = new AbortController();
    controllers.set(request, controller);
  }
  return controller.signal;
}

/**
 * One deadline per request, from its headers to its answer: past `timeoutMs` the client
 * gets a 503 `REQUEST_TIMEOUT` through the route's error handler (a GraphQL error on
 * /graphql) and the connection is closed, since a slow upload may still be arriving on it.
 *
 * fastify 5's own `handlerTimeout` would do this, but in 5.12 it stops the timer as soon
 * as a request's body has been read (it takes the request stream's `close` for a client
 * leaving), so it never fires for a POST, which every GraphQL mutation is
 * (fastify/fastify#6725). The end of the *response* is watched here instead.
 */
export function registerRequestDeadline(app: FastifyInstance, timeoutMs: number): void {
  app.addHook('onRequest', (request, reply, done) => {
    const signal = requestSignal(request);
    const controller = controllers.get(request)!;
    const timer = setTimeout(() => {
      if (reply.sent || reply.raw.headersSent) return;
      const error = new RequestTimeoutError(timeoutMs);
      controller.abort(error);
      request.log.warn({ timeoutMs }, 'request timed out');
      reply.header('connection', 'close').send(error);
    }, timeoutMs);
    reply.raw.once('close', () => {
      clearTimeout(timer);
      // `close` before the answer was all written: the client went away.
      if (!reply.raw.writableFinished && !signal.aborted) controller.abort(new Error('the client closed the connection'));
    });
    done();
  });
}
