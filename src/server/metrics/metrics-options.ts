import { z } from 'zod';
import type { AnyProjection } from '../../projections/define-projection.js';
import { parseInput } from '../../validation.js';

/** `createService({ metrics })`: what `/metrics` serves and to whom (docs/operations.md). */
export interface MetricsOptions {
  /**
   * Who may read the metrics: `open` (the default: whoever reaches the port; keep the
   * port off the public network) or `admin` (a bearer token with the `admin` role, as the
   * admin schema asks; 401 `UNAUTHENTICATED` / 403 `FORBIDDEN` otherwise).
   */
  access?: 'open' | 'admin';
  /** Where the metrics are served (default `/metrics`). */
  path?: string;
  /**
   * The projections to report on, read with their code's event types as `annals status`
   * does. Every projection set up in the store's database is reported as well, read with
   * the event types its live generation recorded; without this option, those are all.
   */
  projections?: readonly AnyProjection[];
  /**
   * The log's, the projections' and the outboxes' figures, read from the database at
   * scrape time (default true). They are the same from every process on one database: in a fleet of
   * API processes, keep them on in one (or scrape one) to read them once.
   */
  storeFigures?: boolean;
  /** How long one read of the store's (or the outboxes') figures serves the scrapes that follow (default 5,000 ms). */
  storeFiguresMaxAgeMs?: number;
  /**
   * How long a scrape waits for a fresh read of the store's figures (default 5,000 ms);
   * past it the scrape answers with the last figures read, and the read goes on for the
   * next scrape (one read at a time).
   */
  storeReadTimeoutMs?: number;
  /** Node's process metrics, `process_*` and `nodejs_*` (default true). */
  processMetrics?: boolean;
  /**
   * Distinct GraphQL operation names kept as label values (default 100): clients choose
   * the names, so beyond this, new ones count as `__other` and the series stay bounded.
   */
  maxOperationNames?: number;
  /** Histogram buckets of the request and operation durations, in seconds, increasing. */
  latencyBuckets?: readonly number[];
}

/** The options once checked, defaults filled in. */
export interface MetricsSettings {
  access: 'open' | 'admin';
  path: string;
  projections: readonly AnyProjection[];
  storeFigures: boolean;
  storeFiguresMaxAgeMs: number;
  storeReadTimeoutMs: number;
  processMetrics: boolean;
  maxOperationNames: number;
  latencyBuckets: number[];
}

/**
 * From a millisecond to 10 s, and 30 s for what waited out a timeout: reads answer in
 * milliseconds, read-your-writes waits up to 5 s, and a request is cut at 15 s.
 */
export const defaultLatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const maxTimerMs = 2 ** 31 - 1;

const projectionSchema = z.custom<AnyProjection>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AnyProjection).name === 'string' &&
    Array.isArray((value as AnyProjection).eventTypes),
  { error: 'must be a projection (defineProjection)' },
);

const optionsSchema = z.strictObject({
  access: z.enum(['open', 'admin']).optional(),
  path: z
    .string()
    .regex(/^\/[\w\-./]*$/, { error: 'must be a path starting with / (letters, digits, -, _, ., /)' })
    .optional(),
  projections: z
    .array(projectionSchema)
    .refine((list) => new Set(list.map((p) => p.name)).size === list.length, { error: 'names a projection twice' })
    .optional(),
  storeFigures: z.boolean().optional(),
  storeFiguresMaxAgeMs: z.number().int().min(0).max(maxTimerMs).optional(),
  storeReadTimeoutMs: z.number().int().min(1).max(maxTimerMs).optional(),
  processMetrics: z.boolean().optional(),
  maxOperationNames: z.number().int().min(0).max(10_000).optional(),
  latencyBuckets: z
    .array(z.number().positive().finite())
    .min(1)
    .refine((buckets) => buckets.every((bound, i) => i === 0 || bound > buckets[i - 1]!), { error: 'must be increasing' })
    .optional(),
});

/**
 * Checks `options.metrics` and fills in the defaults; false when metrics are off.
 *
 * @throws ValidationError naming the option (`options.metrics.access`).
 */
export function checkMetricsOptions(options: MetricsOptions | false | undefined): MetricsSettings | false {
  if (options === false) return false;
  const checked = parseInput(optionsSchema, options ?? {}, 'options.metrics');
  return {
    access: checked.access ?? 'open',
    path: checked.path ?? '/metrics',
    projections: checked.projections ?? [],
    storeFigures: checked.storeFigures ?? true,
    storeFiguresMaxAgeMs: checked.storeFiguresMaxAgeMs ?? 5000,
    storeReadTimeoutMs: checked.storeReadTimeoutMs ?? 5000,
    processMetrics: checked.processMetrics ?? true,
    maxOperationNames: checked.maxOperationNames ?? 100,
    latencyBuckets: [...(checked.latencyBuckets ?? defaultLatencyBuckets)],
  };
}
