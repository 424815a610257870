import type { DocumentNode, OperationDefinitionNode } from 'graphql';

/**
 * Which operation of a document runs. A document may hold several (GraphiQL sends the
 * whole editor) and `operationName` picks one; mercurius' hooks are not told the name, so
 * it is read where mercurius read it: the body (a batch's entry) or the query string.
 * Over a websocket, or when the app calls `app.graphql()` itself, it cannot be known, and
 * every operation of the document is taken as the one that may run: a check then errs
 * towards refusing.
 */

/** The name, undefined when none was sent, or `unknownName` when it cannot be read. */
export const unknownName: unique symbol = Symbol('operation name unknown');
export type RequestedName = string | undefined | typeof unknownName;

interface HookContext {
  reply?: { request: { method: string; body?: unknown; query?: unknown } };
  operationId?: number;
}

/** The `operationName` the request sent for this operation (mercurius' context of it). */
export function requestedName(context: unknown): RequestedName {
  const { reply, operationId } = context as HookContext;
  if (reply === undefined) return unknownName;
  const { request } = reply;
  const sent = request.method === 'GET' ? request.query : request.body;
  const entry: unknown = Array.isArray(sent) ? sent[operationId ?? 0] : sent;
  if (typeof entry !== 'object' || entry === null) return unknownName;
  const name = (entry as { operationName?: unknown }).operationName;
  if (name === undefined || name === null || name === '') return undefined;
  return typeof name === 'string' ? name : unknownName;
}

/**
 * The operations that may run: the one named (or the only one), none when graphql will
 * refuse to pick (an unknown name; several and no name), all when the name is unknown.
 */
export function operationsToRun(document: DocumentNode, name: RequestedName): OperationDefinitionNode[] {
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === 'OperationDefinition');
  if (name === unknownName) return operations;
  if (name === undefined) return operations.length === 1 ? operations : [];
  return operations.filter((operation) => operation.name?.value === name);
}
