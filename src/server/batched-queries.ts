import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { RequestRefusedError, ServiceErrorCodes } from './service-errors.js';

/**
 * A `preValidation` hook for the GraphQL route: a batch (a JSON array of operations) is
 * refused when batching is off (`maxBatchedQueries: 0`), or when it holds more operations
 * than allowed. Unbounded, one request could carry thousands of operations past every
 * per-request limit (rate limits count requests, the depth limit one operation).
 */
export function batchGuard(maxBatchedQueries: number) {
  // A callback hook, not an async one: it runs on every request, and a promise per hook shows.
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!Array.isArray(request.body)) return done();
    if (maxBatchedQueries === 0) {
      return done(new RequestRefusedError(ServiceErrorCodes.batchedQueriesDisabled, 400, 'batched queries are not accepted: send one operation per request'));
    }
    if (request.body.length > maxBatchedQueries) {
      return done(
        new RequestRefusedError(
          ServiceErrorCodes.tooManyBatchedQueries,
          400,
          `a batch may hold at most ${maxBatchedQueries} operations; this one has ${request.body.length}`,
        ),
      );
    }
    done();
  };
}
