/**
 * Request rate and latency: every HTTP request by its route's pattern, and every GraphQL
 * operation by its name and type. Both histograms count, so `rate(..._count[5m])` is the
 * request rate and `histogram_quantile` over `_bucket` the latency.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { MercuriusContext } from 'mercurius';
import type { ServiceMetrics } from './service-metrics.js';

/** The label of a request that matched no route: the path is the client's choice, so it is not a label. */
const unmatchedRoute = '__unmatched';
const anonymous = '__anonymous';
const other = '__other';

interface OperationLabels {
  operation_name: string;
  operation_type: string;
}

/**
 * Operation names are chosen by clients: each new one is a new series. The first `max`
 * names seen are kept; later ones count as `__other`, so a client sending a new name
 * with each request cannot grow the scrape (or Prometheus) without bound.
 */
class OperationNames {
  readonly #seen = new Set<string>();

  constructor(readonly max: number) {}

  label(name: string | undefined): string {
    if (name === undefined) return anonymous;
    if (this.#seen.has(name)) return name;
    if (this.#seen.size >= this.max) return other;
    this.#seen.add(name);
    return name;
  }
}

/**
 * Observes each HTTP answer (fastify's `onResponse`, so refusals, 404s and the probes
 * count too), and, once mercurius is loaded, each GraphQL operation that executed:
 * labelled before execution (`preExecution`: the document is valid by then) and observed
 * with its outcome when its result is ready (`onResolution`). Operations refused before
 * they ran (a syntax error, a depth limit, a missing token) have no operation to name:
 * the HTTP histogram counts them, with their status code.
 */
export function registerRequestMetrics(app: FastifyInstance, metrics: ServiceMetrics, maxOperationNames: number): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? unmatchedRoute, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  const names = new OperationNames(maxOperationNames);
  // Each operation's own context (a batch gives each of its operations one).
  const operations = new WeakMap<object, OperationLabels>();
  // mercurius is registered after this (createService registers metrics first, so their
  // hook sees every route); its GraphQL hooks can be added once the app is ready.
  app.addHook('onReady', (done) => {
    const graphql = (app as Partial<Pick<FastifyInstance, 'graphql'>>).graphql;
    if (graphql === undefined) return done();
    graphql.addHook('preExecution', (_schema, document, context) => {
      const labels = operationLabels(document, context, names);
      if (labels) operations.set(context, labels);
    });
    graphql.addHook('onResolution', (execution, context) => {
      const labels = operations.get(context);
      if (!labels || !context.reply) return;
      const outcome = execution.errors !== undefined && execution.errors.length > 0 ? 'error' : 'success';
      metrics.operationDuration.observe({ ...labels, outcome }, context.reply.elapsedTime / 1000);
    });
    done();
  });
}

/** The operation mercurius is about to execute: the one named in the request, else the document's only one. */
function operationLabels(document: DocumentNode, context: MercuriusContext, names: OperationNames): OperationLabels | undefined {
  const request = context.reply?.request as FastifyRequest | undefined;
  if (!request) return undefined;
  const operation = getOperationAST(document, requestedOperationName(request, context.operationId));
  // None: a document of several operations without an operationName, which execution
  // refuses; the HTTP histogram has it.
  if (!operation) return undefined;
  return { operation_name: names.label(operation.name?.value), operation_type: operation.operation };
}

/** The `operationName` of the request (GET: its query string; a batch: the entry of this operation). */
function requestedOperationName(request: FastifyRequest, operationId: number | undefined): string | undefined {
  const source: unknown = request.method === 'GET' ? request.query : request.body;
  const entry: unknown = Array.isArray(source) ? source[operationId ?? 0] : source;
  const name = (entry as { operationName?: unknown } | null | undefined)?.operationName;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
