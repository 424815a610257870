import type { FastifyBaseLogger } from 'fastify';
import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import {
  AnnalsError,
  ConcurrencyError,
  ConnectionTimeoutError,
  DatabaseUnreachableError,
  DomainError,
  ValidationError,
} from '../errors.js';
import { isGraphQLError } from './graphql-realm.js';
import { internalErrorMessage, isClientFacing, publicMessage } from './public-message.js';
import { RequestRefusedError, ServiceErrorCodes, type ServiceErrorCode } from './service-errors.js';

/**
 * Every error a GraphQL request can end in, as a client sees it: a message and
 * `extensions.code`, always. Two kinds arrive here (mercurius calls the formatter for both):
 *
 * - the request was refused before it ran (malformed JSON, a body too large, a syntax
 *   error, a query too deep, a batch): a 4xx status and no `data`, as the GraphQL over
 *   HTTP spec has it;
 * - a resolver threw: status 200, `data` with that field null, and the error mapped by
 *   its class (resolverError). Unknown errors say nothing of themselves in production.
 */

/** What mercurius hands its `errorFormatter`: the part of the context used here. */
interface FormatterContext {
  reply?: { log: FastifyBaseLogger; request: { id: string } };
  app: { log: FastifyBaseLogger };
}

interface Mapped {
  /** The HTTP status of a refused request; undefined for a resolver's error. */
  status?: number;
  formatted: GraphQLFormattedError;
}

/** mercurius' `errorFormatter` option for a service in `production` (or not). */
export function createErrorFormatter(production: boolean) {
  return (execution: ExecutionResult & { errors: readonly GraphQLError[] }, context: FormatterContext) => {
    const log = context.reply?.log ?? context.app.log;
    const requestId = context.reply?.request.id;
    const mapped = execution.errors.flatMap((error) => mapError(error, { production, log, requestId }));
    const status = execution.data == null ? mapped.find((m) => m.status !== undefined)?.status : undefined;
    const errors = mapped.map((m) => m.formatted);
    // A refused request never ran, so it has no `data` at all (GraphQL over HTTP).
    if (status !== undefined && status >= 400) return { statusCode: status, response: { errors } };
    return { statusCode: 200, response: { data: execution.data ?? null, errors } };
  };
}

interface Environment {
  production: boolean;
  log: FastifyBaseLogger;
  requestId: string | undefined;
}

function mapError(error: GraphQLError, env: Environment): Mapped[] {
  // A resolver's error has a path (the field that failed); one about the request as a
  // whole has none. Only the latter may set the status: a resolver's error that happens to
  // carry a `statusCode` (an HTTP client's, say) is not the service refusing the request.
  if (error.path !== undefined) return [{ formatted: resolverError(error, env) }];
  const original: unknown = error.originalError;
  // graphql's own objection to the request, found while starting to execute it (an
  // operationName the document lacks, a variable not given).
  if (original === undefined) return [{ status: 400, formatted: documentFinding(error) }];
  const findings = documentFindings(original);
  if (findings) {
    const status = statusOf(original) ?? 400;
    return findings.map((finding) => {
      const formatted = documentFinding(finding);
      env.log.info({ code: formatted.extensions?.code }, formatted.message);
      return { status, formatted };
    });
  }
  const refused = refusal(original);
  if (refused) {
    env.log.info({ code: refused.code }, refused.message);
    return [{ status: refused.status, formatted: { message: refused.message, extensions: { code: refused.code } } }];
  }
  // Something failed around the request, not in a resolver (a hook, the context builder):
  // mapped like a resolver's error, but the request as a whole failed.
  return [{ status: original instanceof ValidationError ? 400 : 500, formatted: resolverError(error, env) }];
}

/**
 * What mercurius found wrong with a document (syntax, validation, depth) or with the body
 * holding it: it wraps them in one MER_ERR_GQL_VALIDATION whose `errors` are the findings.
 */
function documentFindings(error: unknown): unknown[] | undefined {
  const { code, errors } = (error ?? {}) as { code?: unknown; errors?: unknown };
  return code === 'MER_ERR_GQL_VALIDATION' && Array.isArray(errors) ? errors : undefined;
}

/** An HTTP-level refusal of the request as a whole (it never reached GraphQL), or undefined. */
function refusal(error: unknown): { status: number; code: ServiceErrorCode | string; message: string } | undefined {
  if (error instanceof RequestRefusedError) return { status: error.statusCode, code: error.code, message: error.message };
  const status = statusOf(error);
  if (status === undefined || !(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status, code: ServiceErrorCodes.invalidJson, message: error.message };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status, code: ServiceErrorCodes.bodyTooLarge, message: error.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status, code: ServiceErrorCodes.unsupportedMediaType, message: 'send the query as application/json (or application/graphql)' };
    case 'MER_ERR_METHOD_NOT_ALLOWED':
      return { status, code: ServiceErrorCodes.methodNotAllowed, message: 'mutations must be sent with POST, not GET' };
  }
  // GET's `variables` or `extensions` that are not JSON: mercurius tags the SyntaxError itself.
  if (error instanceof SyntaxError) return { status, code: ServiceErrorCodes.invalidJson, message: error.message };
  if (status >= 400 && status < 500) return { status, code: ServiceErrorCodes.badRequest, message: error.message };
  return undefined;
}

/**
 * A variable graphql could not coerce to its type (`Variable "$amount" got invalid value
 * 2147483648; Int cannot represent ...`): bad input, as a resolver's ValidationError is,
 * naming the field (`amount`, or `lines[0].quantity` inside an input object). The request
 * still never ran, so it keeps its 400.
 */
function variableIssue(message: string): { field: string; reason: string } | undefined {
  const match = /^Variable "\$(\w+)" got invalid value .*?(?: at "(\w+(?:\[\d+\]|\.\w+)*)")?; (.+)$/s.exec(message);
  if (match === null) return undefined;
  return { field: match[2] ?? match[1]!, reason: match[3]! };
}

/** One thing wrong with the document (or the body holding it), as a client sees it. */
function documentFinding(finding: unknown): GraphQLFormattedError {
  if (isGraphQLError(finding)) {
    // graphql's words, typo included: "Document contains more that 5000 tokens. Parsing aborted."
    const tokens = /^Syntax Error: Document contains more that (\d+) tokens\. Parsing aborted\.$/.exec(finding.message)?.[1];
    if (tokens !== undefined) {
      return { message: `the query has more than ${tokens} tokens; send a smaller one`, extensions: { code: ServiceErrorCodes.queryTooLarge } };
    }
    const variable = variableIssue(finding.message);
    if (variable !== undefined) {
      const { message, locations } = finding.toJSON();
      return { message, ...(locations ? { locations } : {}), extensions: { code: ServiceErrorCodes.badUserInput, issues: [variable] } };
    }
    // graphql-jit's errors (compiled documents: compiled-queries.ts) may have no extensions.
    const own = finding.extensions?.code;
    const code =
      typeof own === 'string' ? own : finding.message.startsWith('Syntax Error:') ? ServiceErrorCodes.parseFailed : ServiceErrorCodes.validationFailed;
    const { message, locations } = finding.toJSON();
    return { message, ...(locations ? { locations } : {}), extensions: { code } };
  }
  const error = finding instanceof Error ? finding : new Error(String(finding));
  const code = (error as { code?: unknown }).code;
  if (code === 'MER_ERR_GQL_QUERY_DEPTH') {
    // mercurius' message is wrapped in backticks: `unnamedQuery query depth (12) exceeds …`
    return { message: error.message.replace(/^`|`$/g, ''), extensions: { code: ServiceErrorCodes.queryTooDeep } };
  }
  return { message: error.message, extensions: { code: ServiceErrorCodes.badRequest } };
}

/**
 * Errors of the Annals store that a client may simply send again: nothing was written,
 * and another attempt can succeed (another writer got there first; no connection was
 * free; the database could not be reached for a passing reason).
 */
function isRetryable(error: AnnalsError): boolean {
  if (error instanceof ConcurrencyError || error instanceof ConnectionTimeoutError) return true;
  return error instanceof DatabaseUnreachableError && (error.reason === 'refused' || error.reason === 'timeout');
}

/** A resolver's error: mapped by its class, never with a stack in production. */
function resolverError(error: GraphQLError, env: Environment): GraphQLFormattedError {
  const original = error.originalError;
  const where = { ...(error.locations ? { locations: error.locations } : {}), ...(error.path ? { path: error.path } : {}) };
  if (original instanceof ValidationError) {
    env.log.info({ code: original.code, path: error.path }, original.message);
    return { message: original.message, ...where, extensions: { code: ServiceErrorCodes.badUserInput, issues: original.issues } };
  }
  if (original instanceof DomainError) {
    env.log.info({ code: original.code, path: error.path }, original.message);
    const details = Object.keys(original.details).length > 0 ? { details: original.details } : {};
    return { message: original.message, ...where, extensions: { code: original.code, ...details } };
  }
  if (original instanceof AnnalsError) {
    const clientFacing = isClientFacing(original);
    if (clientFacing) env.log.info({ code: original.code, path: error.path }, original.message);
    else env.log.error({ err: original, path: error.path }, original.message);
    return {
      message: publicMessage(original, env.production),
      ...where,
      extensions: {
        code: original.code,
        ...(isRetryable(original) ? { retryable: true } : {}),
        ...(clientFacing ? {} : { requestId: env.requestId }),
      },
    };
  }
  // Thrown on purpose with a code (a GraphQLError, mercurius' ErrorWithProps): the
  // resolver chose what the client reads.
  const own = original === undefined ? error.extensions : (original as { extensions?: Record<string, unknown> }).extensions;
  if (typeof own?.code === 'string') {
    env.log.info({ code: own.code, path: error.path }, error.message);
    return { message: error.message, ...where, extensions: { ...own } };
  }
  env.log.error({ err: original ?? error, path: error.path }, `resolver failed: ${error.message}`);
  return {
    message: env.production ? internalErrorMessage : error.message,
    ...where,
    extensions: {
      code: ServiceErrorCodes.internal,
      requestId: env.requestId,
      // Outside production only: the developer at GraphiQL sees where it came from.
      ...(env.production || !(original instanceof Error) ? {} : { stacktrace: original.stack?.split('\n') ?? [] }),
    },
  };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 ? status : undefined;
}
