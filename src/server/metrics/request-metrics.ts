/**
 * Request rate and latency: every HTTP request by its route's pattern, and every GraphQL
 * operation by its name and type. Both histograms count, so `rate(..._count[5m])` is the
 * request rate and `histogram_quantile` over `_bucket` the latency.
 *
 * These hooks run on every request, so each keeps what it can from one request to the
 * next: an operation's labels are resolved once per parsed document (mercurius hands the
 * same `DocumentNode` to every request of a query it has cached), and each label tuple's
 * histogram child is kept, so an observation builds no label object.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { getOperationAST, type DocumentNode } from 'graphql';
import type { MercuriusContext } from 'mercurius';
import type { ServiceMetrics } from './service-metrics.js';

/** The label of a request that matched no route: the path is the client's choice, so it is not a label. */
const unmatchedRoute = '__unmatched';
const anonymous = '__anonymous';
const other = '__other';

/** What `histogram.labels(...)` returns: observes into one series without hashing a new label object. */
interface Series {
  observe(seconds: number): void;
}

/** One operation's two series, by outcome: the result had errors or it did not. */
interface OperationSeries {
  success: Series;
  error: Series;
}

/**
 * Where `preExecution` leaves the operation's series: on the operation's own context (a
 * batch gives each of its operations one). A symbol, not a WeakMap: a WeakMap entry per
 * request costs about as much as the rest of these hooks together.
 */
const runningSeries = Symbol('annals.metrics.operationSeries');
/** Set on an operation's context when its result had errors (markFailedOperations). */
const failed = Symbol('annals.metrics.failed');
/** On the request: the contexts of its operations that ran (one, or a batch's several). */
const ranOperations = Symbol('annals.metrics.ranOperations');

interface RunningOperation {
  [runningSeries]?: OperationSeries;
  [failed]?: true;
}

type RanOperations = RunningOperation | RunningOperation[] | null;

/**
 * Wraps mercurius' `errorFormatter`, which it calls for an operation whose result has
 * errors, with that operation's context: the context is marked, and the operation counts
 * as an error when the answer has gone (registerRequestMetrics). This saves mercurius'
 * `onResolution` hook, a chain of promises on every request, only to read the outcome.
 */
export function markFailedOperations<E, C, R>(formatter: (execution: E, context: C) => R): (execution: E, context: C) => R {
  return (execution, context) => {
    if (context) (context as RunningOperation)[failed] = true;
    return formatter(execution, context);
  };
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
 * The series of the operation a document runs, by the `operationName` it was sent with.
 * Kept per document (weakly: a document mercurius drops from its cache takes its entry
 * along) and, within one, only for names the document defines, so a client cannot grow
 * the map by sending one cached query under ever new names.
 */
class OperationSeriesCache {
  readonly #byDocument = new WeakMap<DocumentNode, Map<string | undefined, OperationSeries>>();
  readonly #byLabels = new Map<string, OperationSeries>();
  readonly #names: OperationNames;

  constructor(
    readonly metrics: ServiceMetrics,
    maxOperationNames: number,
  ) {
    this.#names = new OperationNames(maxOperationNames);
  }

  /** Undefined when the document has no such operation (or several and no name): execution refuses it. */
  of(document: DocumentNode, requestedName: string | undefined): OperationSeries | undefined {
    let byName = this.#byDocument.get(document);
    const known = byName?.get(requestedName);
    if (known) return known;
    const operation = getOperationAST(document, requestedName);
    if (!operation) return undefined;
    const series = this.#series(this.#names.label(operation.name?.value), operation.operation);
    if (!byName) this.#byDocument.set(document, (byName = new Map()));
    byName.set(requestedName, series);
    return series;
  }

  #series(name: string, type: string): OperationSeries {
    // Names are capped and types are three: this map stays small.
    const key = `${type} ${name}`;
    let series = this.#byLabels.get(key);
    if (!series) {
      const histogram = this.metrics.operationDuration;
      series = {
        success: histogram.labels({ operation_name: name, operation_type: type, outcome: 'success' }),
        error: histogram.labels({ operation_name: name, operation_type: type, outcome: 'error' }),
      };
      this.#byLabels.set(key, series);
    }
    return series;
  }
}

/**
 * The HTTP histogram's series by route, method and status code. A route's url is the
 * pattern it was registered with (or `__unmatched`), methods are those HTTP knows and
 * status codes a few dozen: the map stays small.
 */
class HttpSeriesCache {
  // route, then method, then status: lookups by strings fastify already holds, no key to build.
  readonly #series = new Map<string, Map<string, Map<number, Series>>>();

  constructor(readonly metrics: ServiceMetrics) {}

  of(method: string, route: string, statusCode: number): Series {
    let byMethod = this.#series.get(route);
    if (!byMethod) this.#series.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(statusCode);
    if (!series) {
      series = this.metrics.httpDuration.labels({ method, route, status_code: String(statusCode) });
      byStatus.set(statusCode, series);
    }
    return series;
  }
}

/**
 * Observes each HTTP answer (fastify's `onResponse`, so refusals, 404s and the probes
 * count too), and, once mercurius is loaded, each GraphQL operation that executed:
 * labelled before execution (`preExecution`: the document is valid by then), observed
 * with its outcome (markFailedOperations) and the request's time when the answer has gone.
 * Operations refused before they ran (a syntax error, a depth limit, a missing token) have
 * no operation to name: the HTTP histogram counts them, with their status code. An
 * operation that a `preExecution` hook refuses (security's, which runs first) is not
 * labelled, so it does not count as run.
 */
export function registerRequestMetrics(app: FastifyInstance, metrics: ServiceMetrics, maxOperationNames: number): void {
  const http = new HttpSeriesCache(metrics);
  // Declared, so that every request has the field from the start (fastify's advice).
  app.decorateRequest(ranOperations, null);
  app.addHook('onResponse', (request, reply, done) => {
    const seconds = reply.elapsedTime / 1000;
    // `routeOptions` builds an object per access, but that is tens of nanoseconds; a route's
    // url captured in `onRoute` would miss the routes added before this (the probes).
    http.of(request.method, request.routeOptions.url ?? unmatchedRoute, reply.statusCode).observe(seconds);
    const ran = (request as unknown as Record<symbol, RanOperations>)[ranOperations];
    if (Array.isArray(ran)) ran.forEach((operation) => observeOperation(operation, seconds));
    else if (ran) observeOperation(ran, seconds);
    done();
  });
  const operations = new OperationSeriesCache(metrics, maxOperationNames);
  // mercurius is registered after this (createService registers metrics first, so their
  // hook sees every route); its GraphQL hooks can be added once the app is ready.
  app.addHook('onReady', (done) => {
    const graphql = (app as Partial<Pick<FastifyInstance, 'graphql'>>).graphql;
    if (graphql === undefined) return done();
    graphql.addHook('preExecution', (_schema, document, context) => {
      const request = context.reply?.request as (FastifyRequest & Record<symbol, RanOperations>) | undefined;
      // None over a websocket: no HTTP answer to time it by.
      if (!request) return;
      const series = operationSeries(request, document, context, operations);
      if (!series) return;
      const operation = context as RunningOperation;
      operation[runningSeries] = series;
      const ran = request[ranOperations];
      request[ranOperations] = ran == null ? operation : Array.isArray(ran) ? [...ran, operation] : [ran, operation];
    });
    done();
  });
}

function observeOperation(operation: RunningOperation, seconds: number): void {
  const series = operation[runningSeries];
  if (series) (operation[failed] ? series.error : series.success).observe(seconds);
}

/** The operation mercurius is about to execute: the one named in the request, else the document's only one. */
function operationSeries(request: FastifyRequest, document: DocumentNode, context: MercuriusContext, operations: OperationSeriesCache): OperationSeries | undefined {
  // None: a document of several operations without an operationName, which execution
  // refuses; the HTTP histogram has it.
  return operations.of(document, requestedOperationName(request, context.operationId));
}

/** The `operationName` of the request (GET: its query string; a batch: the entry of this operation). */
function requestedOperationName(request: FastifyRequest, operationId: number | undefined): string | undefined {
  const source: unknown = request.method === 'GET' ? request.query : request.body;
  const entry: unknown = Array.isArray(source) ? source[operationId ?? 0] : source;
  const name = (entry as { operationName?: unknown } | null | undefined)?.operationName;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
