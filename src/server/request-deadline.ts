import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RequestTimeoutError } from './service-errors.js';

/**
 * Per request: its controller, made when something first asks for the signal (most
 * requests never do), and why it ended early, if it did before anyone asked.
 */
interface Deadline {
  controller?: AbortController;
  reason?: Error;
}

/**
 * Where a request keeps its deadline: a field fastify declares on every request
 * (`decorateRequest`), not a WeakMap, whose entry per request costs the garbage
 * collector more than the rest of the deadline.
 */
const deadlineOf = Symbol('annals.deadline');

type WithDeadline = FastifyRequest & { [deadlineOf]?: Deadline | null };

/**
 * The request's signal: aborts when the request runs past its deadline (the reason is a
 * RequestTimeoutError) or when the client goes away first. Resolvers get it as
 * `context.signal` and pass it on to whatever can stop early.
 */
export function requestSignal(request: FastifyRequest): AbortSignal {
  const withDeadline = request as WithDeadline;
  // None on a request that did not pass the hook (a context made outside a route).
  const deadline = (withDeadline[deadlineOf] ??= {});
  if (deadline.controller === undefined) {
    deadline.controller = new AbortController();
    if (deadline.reason !== undefined) deadline.controller.abort(deadline.reason);
  }
  return deadline.controller.signal;
}

function abort(deadline: Deadline, reason: Error): void {
  if (deadline.reason !== undefined) return;
  deadline.reason = reason;
  deadline.controller?.abort(reason);
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
  app.decorateRequest(deadlineOf, null);
  app.addHook('onRequest', (request, reply, done) => {
    const deadline: Deadline = {};
    (request as WithDeadline)[deadlineOf] = deadline;
    const timer = setTimeout(() => {
      if (reply.sent || reply.raw.headersSent) return;
      const error = new RequestTimeoutError(timeoutMs);
      abort(deadline, error);
      request.log.warn({ timeoutMs }, 'request timed out');
      reply.header('connection', 'close').send(error);
    }, timeoutMs);
    reply.raw.once('close', () => {
      clearTimeout(timer);
      // `close` before the answer was all written: the client went away.
      if (!reply.raw.writableFinished) abort(deadline, new Error('the client closed the connection'));
    });
    done();
  });
}
