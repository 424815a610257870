/**
 * The service executes GraphQL documents compiled to JavaScript (graphql-jit, mercurius'
 * `jit` option) from the second time it sees one: graphql's own execution walks the
 * document on every request, and for a one-row read that walk cost about as much as the
 * rest of the service's work (docs/benchmarks.md, issue 14).
 *
 * mercurius keeps each compiled document under its query text alone, compiled for the
 * `operationName` of the request that compiled it. A document holding several operations,
 * sent again under another name, would run the first one. So before mercurius sees a
 * request, the name is made part of the text: a comment line holding it, which graphql
 * ignores and which gives each (document, name) its own cache entry. The name is written
 * as a JSON string, so no name a client sends can end the comment and add to the document.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

interface Operation {
  query?: unknown;
  operationName?: unknown;
}

function nameInText(operation: Operation | null | undefined): void {
  if (operation === null || typeof operation !== 'object') return;
  const { query, operationName } = operation;
  if (typeof query === 'string' && typeof operationName === 'string') operation.query = `${query}\n# ${JSON.stringify(operationName)}`;
}

/** A `preValidation` hook of the GraphQL route: POST (one operation or a batch) and GET. */
export function operationNameInQueryText(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const source = request.method === 'GET' ? request.query : request.body;
  if (Array.isArray(source)) source.forEach((operation: Operation) => nameInText(operation));
  else nameInText(source as Operation);
  done();
}
