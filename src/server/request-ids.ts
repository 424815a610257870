import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { FastifyHttpOptions } from 'fastify';

type ChildLoggerFactory = NonNullable<FastifyHttpOptions<Server>['childLoggerFactory']>;

/** The request headers the service reads ids from, and echoes `x-request-id` on. */
export const requestIdHeader = 'x-request-id';
export const correlationIdHeader = 'x-correlation-id';

/**
 * What an id sent by a client must look like to be kept: 1 to 128 visible ASCII
 * characters. Anything else is dropped, not cut: these ids are logged and stamped on
 * events, and a header is whatever a client chose to send.
 */
const acceptable = /^[\x21-\x7e]{1,128}$/;

/** The header's value when it is one acceptable id; undefined otherwise (absent, repeated, malformed). */
export function acceptedId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && acceptable.test(value) ? value : undefined;
}

/**
 * fastify's `genReqId`: the `x-request-id` a proxy in front already gave the request, so
 * the proxy's log and this one name it alike; else a new UUID.
 */
export function requestIdOf(request: IncomingMessage): string {
  return acceptedId(request.headers[requestIdHeader]) ?? randomUUID();
}

/**
 * The id that ties together everything one user action caused, across services: the
 * caller's `x-correlation-id` when it sent one, else this request's id (this request
 * starts the chain).
 */
export function correlationIdOf(request: IncomingMessage, requestId: string): string {
  return acceptedId(request.headers[correlationIdHeader]) ?? requestId;
}

/**
 * fastify's `childLoggerFactory`: each request's logger carries the correlation id a
 * caller sent, beside fastify's request id, so every line the request logs can be found
 * from the caller's side too.
 */
export const requestLogger: ChildLoggerFactory = (logger, bindings, options, request) => {
  // A silent logger writes nothing, whatever its bindings: no child for every request.
  if (logger.level === 'silent') return logger;
  const correlationId = acceptedId(request.headers[correlationIdHeader]);
  return logger.child(correlationId === undefined ? bindings : { ...bindings, correlationId }, options);
};
