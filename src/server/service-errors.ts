/**
 * The codes the service puts on the wire: `extensions.code` of a GraphQL error, `code` of
 * a readiness check's failure. The store's own codes (`ANNALS_*`, src/errors.ts) and a
 * domain's (`ACCOUNT_INSUFFICIENT_FUNDS`) reach clients unchanged beside these; this list
 * is what the server edge adds. docs/server.md documents each one, and
 * test/server/service-error-codes.unit.test.ts keeps the two in step.
 *
 * The names follow the GraphQL servers clients already know (`BAD_USER_INPUT`,
 * `INTERNAL_SERVER_ERROR`, `GRAPHQL_PARSE_FAILED` are Apollo's), so a client library's
 * handling of them works here too.
 */
export const ServiceErrorCodes = {
  badUserInput: 'BAD_USER_INPUT',
  internal: 'INTERNAL_SERVER_ERROR',
  parseFailed: 'GRAPHQL_PARSE_FAILED',
  validationFailed: 'GRAPHQL_VALIDATION_FAILED',
  queryTooDeep: 'QUERY_TOO_DEEP',
  queryTooLarge: 'QUERY_TOO_LARGE',
  queryTooComplex: 'QUERY_TOO_COMPLEX',
  introspectionDisabled: 'INTROSPECTION_DISABLED',
  batchedQueriesDisabled: 'BATCHED_QUERIES_DISABLED',
  tooManyBatchedQueries: 'TOO_MANY_BATCHED_QUERIES',
  invalidJson: 'INVALID_JSON',
  bodyTooLarge: 'BODY_TOO_LARGE',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  badRequest: 'BAD_REQUEST',
  methodNotAllowed: 'METHOD_NOT_ALLOWED',
  requestTimeout: 'REQUEST_TIMEOUT',
  readinessCheckFailed: 'READINESS_CHECK_FAILED',
  readinessCheckTimeout: 'READINESS_CHECK_TIMEOUT',
  consistencyTimeout: 'CONSISTENCY_TIMEOUT',
  consistencyRebuilding: 'CONSISTENCY_REBUILDING',
  consistencyStopped: 'CONSISTENCY_STOPPED',
  consistencyDeadLettered: 'CONSISTENCY_DEAD_LETTERED',
  unauthenticated: 'UNAUTHENTICATED',
  forbidden: 'FORBIDDEN',
  rateLimited: 'RATE_LIMITED',
  tooManySubscriptions: 'TOO_MANY_SUBSCRIPTIONS',
} as const;

export type ServiceErrorCode = (typeof ServiceErrorCodes)[keyof typeof ServiceErrorCodes];

/**
 * A request the service refuses before running it (a batch when batching is off, say).
 * `statusCode` is the HTTP status fastify answers with; the code reaches the client as
 * `extensions.code`. Not an AnnalsError: these exist only at the HTTP edge, where status
 * codes belong (docs/errors.md keeps them out of the store's errors).
 *
 * @example
 * ```ts
 * throw new RequestRefusedError(ServiceErrorCodes.tooManyBatchedQueries, 400, 'at most 10 operations per batch');
 * ```
 */
export class RequestRefusedError extends Error {
  readonly code: ServiceErrorCode;
  readonly statusCode: number;

  constructor(code: ServiceErrorCode, statusCode: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
  }
}

/**
 * A request took longer than `limits.requestTimeoutMs`, from its headers to its answer.
 * The client gets a 503 with `REQUEST_TIMEOUT`; the work in flight is told through the
 * context's `signal`, which aborts with this error as its reason (a resolver that does
 * not look at it runs on, and its late answer is dropped).
 *
 * @example
 * ```ts
 * if (context.signal.reason instanceof RequestTimeoutError) return; // nobody is waiting
 * ```
 */
export class RequestTimeoutError extends RequestRefusedError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(ServiceErrorCodes.requestTimeout, 503, `the request took longer than ${timeoutMs} ms and was abandoned; retry it later`);
    this.timeoutMs = timeoutMs;
  }
}
