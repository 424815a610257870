import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { internalErrorMessage } from './public-message.js';
import { RequestRefusedError } from './service-errors.js';

/**
 * Errors of the routes that are not GraphQL (the probes, and what later work and users
 * add to `service.app`), in fastify's own shape, `{ statusCode, code, error, message }`,
 * with one change: in production a 5xx says nothing of itself (fastify would send the
 * thrown error's message), unless the service refused the request on purpose (a timeout).
 * /graphql has its own handler, mercurius', which formats through graphql-errors.ts.
 */
export function registerHttpErrorHandler(app: FastifyInstance, production: boolean): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    const hidden = production && status >= 500 && !(error instanceof RequestRefusedError);
    if (status >= 500) request.log.error({ err: error }, error.message);
    else request.log.info({ err: error }, error.message);
    reply.code(status).send({
      statusCode: status,
      ...(typeof error.code === 'string' && !hidden ? { code: error.code } : {}),
      error: STATUS_CODES[status] ?? 'Error',
      message: hidden ? internalErrorMessage : error.message,
    });
  });
}
