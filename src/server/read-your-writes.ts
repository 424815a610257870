import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ValidationError } from '../errors.js';
import {
  ConsistencyDeadLetteredError,
  ConsistencyRebuildingError,
  ConsistencyStoppedError,
  ConsistencyTimeoutError,
} from '../errors/consistency-errors.js';
import type { EventStore } from '../event-store/event-store.js';
import { maxGlobalPosition } from '../event-store/read-options.js';
import type { AnyProjection } from '../projections/define-projection.js';
import { waitForProjections } from '../projections/wait-for-projections.js';
import { requestSignal } from './request-deadline.js';
import { ServiceErrorCodes, type ServiceErrorCode } from './service-errors.js';

/**
 * Read your writes at the server edge (docs/server.md, "Read your writes"): a client sends
 * the `position` a mutation returned in the `Annals-Min-Position` header, or a resolver
 * takes it as a `minPosition` argument, and `context.readYourWrites(projections)` waits
 * until those projections have processed it (waitForProjections), mapping what can go
 * wrong to GraphQL codes.
 */

/** The request header (fastify lower-cases header names). */
export const minPositionHeader = 'annals-min-position';
/** The header as clients and errors spell it. */
const headerField = 'Annals-Min-Position';

export interface ReadYourWritesOptions {
  /**
   * A position the resolver was given (a `minPosition` argument): digits as a string, or
   * a bigint. With the header too, the higher of the two is waited for.
   */
  minPosition?: string | bigint | null | undefined;
  /** Which of the projections are applied inline (waitForProjections' `inline`). */
  inline?: readonly string[];
}

/**
 * `context.readYourWrites`: resolves once `projections` have processed the client's
 * position (at once without one).
 *
 * @throws ValidationError (`BAD_USER_INPUT`) for an `options.minPosition` that is not a position.
 * @throws ConsistencyRefusedError with a `CONSISTENCY_*` code otherwise.
 */
export type ReadYourWrites = (projections: readonly AnyProjection[], options?: ReadYourWritesOptions) => Promise<void>;

const digits = /^\d{1,19}$/;
const nothingToWaitFor: Promise<void> = Promise.resolve();
const reason = `must be a global position: a string of digits from 0 to ${maxGlobalPosition}, the \`position\` a mutation returned`;

/**
 * A position a client sent: a string of digits (positions go past what a JSON number holds
 * exactly, so they travel as strings), or a bigint. Undefined when absent or empty.
 *
 * @throws ValidationError naming `field` for anything else.
 */
export function parseClientPosition(value: unknown, field: string): bigint | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'bigint' && value >= 0n && value <= maxGlobalPosition) return value;
  if (typeof value === 'string' && digits.test(value.trim())) {
    const position = BigInt(value.trim());
    if (position <= maxGlobalPosition) return position;
  }
  const why = Array.isArray(value) ? `${reason}; send it once` : typeof value === 'number' ? `${reason} (a string, not a number)` : reason;
  throw new ValidationError([{ field, reason: why }]);
}

/**
 * A `preValidation` hook for the GraphQL route: a malformed `Annals-Min-Position` fails the
 * request as a whole, with `BAD_USER_INPUT` naming the header, before any resolver runs
 * (a query that would ignore it is still refused: the client meant something by it).
 */
export function minPositionGuard(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const value = request.headers[minPositionHeader];
  if (value === undefined) return done();
  try {
    parseClientPosition(value, headerField);
  } catch (error) {
    return done(error as Error);
  }
  done();
}

/**
 * A refusal of `readYourWrites`, as a client reads it: `extensions.code` is one of the
 * `CONSISTENCY_*` codes, `extensions.position` the position (a string), `retryable` when
 * asking again later can succeed. The formatter passes an error with a code of its own
 * through as it is (graphql-errors.ts); the library's error, with what only the operator
 * should read (handler errors), is its `cause` and goes to the log.
 */
export class ConsistencyRefusedError extends Error {
  readonly extensions: { code: ServiceErrorCode; position: string; projections: string[]; retryable?: true };

  constructor(code: ServiceErrorCode, message: string, details: { position: bigint; projections: readonly string[]; retryable: boolean; cause: Error }) {
    super(message, { cause: details.cause });
    this.name = new.target.name;
    this.extensions = {
      code,
      position: details.position.toString(),
      projections: [...details.projections],
      ...(details.retryable ? { retryable: true as const } : {}),
    };
  }
}

/** The library's consistency errors as what a client reads; anything else (a signal's reason, a database fault) as it is. */
export function consistencyRefusal(error: unknown): unknown {
  if (error instanceof ConsistencyTimeoutError) {
    return new ConsistencyRefusedError(
      ServiceErrorCodes.consistencyTimeout,
      `the read model (${error.projections.join(', ')}) has not reached position ${error.position} within ${error.timeoutMs} ms; retry the query`,
      { position: error.position, projections: error.projections, retryable: true, cause: error },
    );
  }
  if (error instanceof ConsistencyRebuildingError) {
    return new ConsistencyRefusedError(
      ServiceErrorCodes.consistencyRebuilding,
      `the read model '${error.projection}' is being rebuilt and cannot show position ${error.position} until the rebuild completes; retry later`,
      { position: error.position, projections: [error.projection], retryable: true, cause: error },
    );
  }
  if (error instanceof ConsistencyStoppedError) {
    return new ConsistencyRefusedError(
      ServiceErrorCodes.consistencyStopped,
      `the read model '${error.projection}' is stopped on a failure before position ${error.position}; it will not show that write until it is fixed and resumed`,
      { position: error.position, projections: [error.projection], retryable: false, cause: error },
    );
  }
  if (error instanceof ConsistencyDeadLetteredError) {
    return new ConsistencyRefusedError(
      ServiceErrorCodes.consistencyDeadLettered,
      `the read model '${error.projection}' could not apply the write at position ${error.position} (${error.event.eventType}); it will not show it unless the write is retried by an operator`,
      { position: error.position, projections: [error.projection], retryable: false, cause: error },
    );
  }
  return error;
}

/** The position in the request's `Annals-Min-Position` header, if any (the context's `minPosition`). */
export function requestMinPosition(request: FastifyRequest): bigint | undefined {
  // minPositionGuard refused a malformed header before the context was built.
  try {
    return parseClientPosition(request.headers[minPositionHeader], headerField);
  } catch {
    return undefined;
  }
}

/** The context's `readYourWrites` for one request (ServiceContext), waiting for `minPosition` (the header's). */
export function readYourWritesOf(
  request: FastifyRequest,
  minPosition: bigint | undefined,
  settings: { store: EventStore; timeoutMs: number },
): ReadYourWrites {
  // What this request has seen reached already: a query whose fields and loaders each
  // call readYourWrites waits once per projection, not once per call.
  let reached: Map<string, bigint> | undefined;
  const wait = async (projections: readonly AnyProjection[], options: ReadYourWritesOptions): Promise<void> => {
    const given = parseClientPosition(options.minPosition, 'minPosition');
    const position = given === undefined || (minPosition !== undefined && minPosition > given) ? minPosition : given;
    if (position === undefined) return;
    const pending = projections.filter((projection) => (reached?.get(projection.name) ?? -1n) < position);
    if (pending.length === 0) return;
    try {
      await waitForProjections(settings.store, pending, position, {
        timeoutMs: settings.timeoutMs,
        signal: requestSignal(request),
        ...(options.inline ? { inline: options.inline } : {}),
      });
      reached ??= new Map();
      for (const projection of pending) reached.set(projection.name, position);
    } catch (error) {
      const refused = consistencyRefusal(error);
      // A stop or a dead letter needs an operator: the log says what the handler threw.
      if (refused instanceof ConsistencyRefusedError && refused.extensions.retryable !== true) request.log.warn({ err: error }, (error as Error).message);
      throw refused;
    }
  };
  // Most reads carry no position: they get a promise already resolved, not one of their own.
  return (projections, options = {}) =>
    minPosition === undefined && (options.minPosition === undefined || options.minPosition === null || options.minPosition === '') ? nothingToWaitFor : wait(projections, options);
}
