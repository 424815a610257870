import { AnnalsError, DomainError } from '../errors.js';
import { publicMessage } from './public-message.js';
import { ServiceErrorCodes } from './service-errors.js';

/**
 * One thing `/readyz` asks before it says the process may take traffic: the event store
 * (always there, eventStoreReadiness), and whatever else runs in the process (projection
 * workers, later). `check` resolves when ready and throws when not; what it throws is the
 * reason the probe reports (an AnnalsError's code and message, or a generic one).
 *
 * @example
 * ```ts
 * service.addReadinessCheck({
 *   name: 'projection-workers',
 *   async check() {
 *     if (!runner.running) throw new Error('the projection workers are not running');
 *   },
 * });
 * ```
 */
export interface ReadinessCheck {
  /** Shown in `/readyz`'s answer: letters, digits, `-`, `_`, `.`; unique within a service. */
  readonly name: string;
  /** Resolves when ready. `signal` aborts when the check took too long (`limits.readinessTimeoutMs`). */
  check(signal: AbortSignal): Promise<void>;
}

/** A check's outcome as `/readyz` reports it. */
export type ReadinessResult =
  | { name: string; status: 'ok'; durationMs: number }
  | { name: string; status: 'failed'; durationMs: number; code: string; message: string };

/** `/readyz`'s body: `ready` only when every check is `ok`. */
export interface ReadinessReport {
  status: 'ready' | 'not-ready';
  checks: ReadinessResult[];
}

export interface RunChecksOptions {
  timeoutMs: number;
  production: boolean;
  /** Where a failing check's full error goes (the body may show less of it). */
  onFailure(name: string, error: unknown): void;
}

/**
 * Runs every check at once, each bounded by `timeoutMs`: a probe must answer in time
 * even when the database hangs (a probe that times out reads as a dead process, and a
 * dead process is restarted; a slow database is not cured by restarting the service).
 */
export async function runReadinessChecks(checks: readonly ReadinessCheck[], options: RunChecksOptions): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map((check) => runOne(check, options)));
  return { status: results.every((result) => result.status === 'ok') ? 'ready' : 'not-ready', checks: results };
}

async function runOne(check: ReadinessCheck, options: RunChecksOptions): Promise<ReadinessResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => {
      // Settled before the abort: a check that rejects on its signal still reads as timed out.
      resolve('timed out');
      controller.abort(new Error(`readiness check '${check.name}' took longer than ${options.timeoutMs} ms`));
    }, options.timeoutMs);
  });
  try {
    const running = check.check(controller.signal).then(() => 'ok' as const);
    // A check that fails after its timeout has nobody left to tell: not an unhandled rejection.
    running.catch(() => {});
    const outcome = await Promise.race([running, timedOut]);
    if (outcome === 'ok') return { name: check.name, status: 'ok', durationMs: elapsed() };
    options.onFailure(check.name, controller.signal.reason);
    return {
      name: check.name,
      status: 'failed',
      durationMs: elapsed(),
      code: ServiceErrorCodes.readinessCheckTimeout,
      message: `no answer within ${options.timeoutMs} ms`,
    };
  } catch (error) {
    options.onFailure(check.name, error);
    const code = error instanceof AnnalsError || error instanceof DomainError ? error.code : ServiceErrorCodes.readinessCheckFailed;
    return { name: check.name, status: 'failed', durationMs: elapsed(), code, message: publicMessage(error, options.production) };
  } finally {
    clearTimeout(timer);
  }
}
