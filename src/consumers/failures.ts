import { ConnectionTimeoutError, EventSchemaError } from '../errors.js';

/**
 * How the workers tell failures apart. A handler's own failure is retried a few times and
 * then dead-lettered (or stops the partition); a fault of the database is not the
 * event's fault, so it is retried with backoff for as long as it lasts and never counts
 * against the event.
 */

/**
 * SQLSTATEs that say "try the same work again": the connection went away (08000,
 * 08001, 08003, 08004, 08006, but not 08P01: a protocol violation, such as a statement
 * with more than 65,535 parameters, fails again each time; 57P01-57P03: the server shut down or is starting; 53300: too many connections), the
 * transaction was rolled back to break a deadlock or a serialization conflict (40P01,
 * 40001), or a lock was not granted in
 * time (55P03). Raised inside a handler (a deadlock between two partitions' upserts, say),
 * they would otherwise count as the handler's failure and could dead-letter a healthy event.
 */
const transientStates = new Set(['08000', '08001', '08003', '08004', '08006', '40001', '40P01', '40003', '57P01', '57P02', '57P03', '55P03', '53300']);

/** Node's socket errors when the server cannot be reached or the connection drops. */
const transientSocketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export function isTransientDatabaseError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    // Every connection held for connectionTimeoutMs: a busy moment, over when they come free.
    if (current instanceof ConnectionTimeoutError) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (transientStates.has(code) || transientSocketCodes.has(code))) return true;
    // pg reports a connection that ended under a query with a plain Error and no code.
    if (/Connection terminated|connection (?:ended|closed)|Client has encountered a connection error/i.test(current.message)) return true;
  }
  return false;
}

/**
 * False for an event the projection's schemas cannot decode (EventSchemaError): stored
 * events are never rewritten and this process's code does not change, so every retry
 * would fail the same way, only after backoff that holds the whole partition up. A
 * handler's own error may pass (a service down): it is retried.
 */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof EventSchemaError);
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
