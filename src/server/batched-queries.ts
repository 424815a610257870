import type { FastifyRequest } from 'fastify';
import { RequestRefusedError, ServiceErrorCodes } from './service-errors.js';

/**
 * A `preValidation` hook for the GraphQL route: a batch (a JSON array of operations) is
 * refused when batching is off (`maxBatchedQueries: 0`), or when it holds more operations
 * than allowed. Unbounded, one request could carry thousands of operations past every
 * per-request limit (rate limits count requests, the depth limit one operation).
 */
export function batchGuard(maxBatchedQueries: number) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!Array.isArray(request.body)) return;
    if (maxBatchedQueries === 0) {
      throw new RequestRefusedError(ServiceErrorCodes.batchedQueriesDisabled, 400, 'batched queries are not accepted: send one operation per request');
    }
    if (request.body.length > maxBatchedQueries) {
      throw new RequestRefusedError(
        ServiceErrorCodes.tooManyBatchedQueries,
        400,
        `a batch may hold at most ${maxBatchedQueries} operations; this one has ${request.body.length}`,
      );
    }
  };
}
