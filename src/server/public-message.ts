import { AnnalsError, DomainError, ErrorCodes } from '../errors.js';

/**
 * The Annals errors whose messages are about the caller's request: a client can act on
 * them, and they hold nothing but what the client sent and the stream's version. Every
 * other code (a database that cannot be reached, a schema not migrated, a stored event
 * that cannot be read) is for the operator: its message names hosts, schemas, event ids,
 * so in production clients get the code and a pointer to the log instead. A list of the
 * safe ones, not of the unsafe ones, so that a code added later starts out hidden.
 */
const clientFacingCodes: ReadonlySet<string> = new Set([
  ErrorCodes.validation,
  ErrorCodes.concurrency,
  ErrorCodes.idempotencyConflict,
  ErrorCodes.streamDeleted,
  ErrorCodes.transactionTooLarge,
]);

/** The generic message of an unknown error in production: nothing of what went wrong. */
export const internalErrorMessage = 'Internal server error';

/** Whether a client may read this AnnalsError's message in production. */
export function isClientFacing(error: AnnalsError): boolean {
  return clientFacingCodes.has(error.code);
}

/**
 * What a client may read of `error`: everything outside production; in production a
 * domain error's message (the domain wrote it for its users), a client-facing Annals
 * error's, and otherwise a generic line (the full error goes to the log).
 */
export function publicMessage(error: unknown, production: boolean): string {
  if (!production) return error instanceof Error ? error.message : String(error);
  if (error instanceof DomainError) return error.message;
  if (error instanceof AnnalsError) {
    return isClientFacing(error) ? error.message : `the service cannot answer this now (${error.code}); the server log has the details`;
  }
  return internalErrorMessage;
}
