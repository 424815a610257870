/**
 * One window of load on a server with autocannon (programmatic API), in this process
 * while the server runs in its own: requests per second and latency percentiles of the
 * answers that were right, and a count of those that were not.
 */
import autocannon from 'autocannon';

export interface LoadWindow {
  /** Right answers per second of the window. */
  requestsPerSecond: number;
  /** Right answers in the window. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were wrong (a status other than 2xx, GraphQL errors), connection errors and timeouts. */
  failed: number;
  /** The first wrong answer's status and body, to say what went wrong. */
  firstFailure?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** The request each connection sends next (a new post, a new user). */
  next: () => { method: 'GET' | 'POST'; path: string; body?: string; headers?: Record<string, string> };
  /** Whether a 2xx answer's body is right (GraphQL answers failures with 200 and `errors`). */
  verify?: (body: string) => boolean;
}

/** The value below which a share `q` of `sorted` lie (nearest rank). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Runs `options.connections` connections, each with one request in flight, for
 * `options.seconds`. Latencies are autocannon's own per-response times (sub-millisecond;
 * its histogram rounds to whole ms), each answer's body checked when `verify` is given.
 */
export async function measureLoad(options: LoadOptions): Promise<LoadWindow> {
  const latencies: number[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  const fail = (why: string) => {
    failed += 1;
    firstFailure ??= why;
  };
  const settings = {
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    requests: [
      {
        setupRequest: (request: autocannon.Request) => ({ ...request, ...options.next() }),
        onResponse: (status: number, body: string) => {
          if (status < 200 || status > 299 || (options.verify && !options.verify(body))) fail(`${status} ${body.slice(0, 300)}`);
        },
      },
    ],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(settings, (error, done) => (error ? reject(error) : resolve(done)));
    // The 'response' event and onResponse see the same answers: keep every 2xx time here
    // and take the wrong ones out by count below (a handful, when there are any).
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (status >= 200 && status <= 299) latencies.push(responseTime);
    });
    instance.on('reqError', (error: Error) => fail(`connection error: ${error.message}`));
  });
  const badBodies = Math.max(0, failed - result.non2xx - result.errors);
  latencies.sort((a, b) => a - b);
  const right = Math.max(0, latencies.length - badBodies);
  return {
    requestsPerSecond: right / result.duration,
    requests: right,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    failed,
    ...(firstFailure === undefined ? {} : { firstFailure }),
  };
}
