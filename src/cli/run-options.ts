import { runProjections, ValidationError, type AnyProjection, type EventStore, type ProjectionRunner, type RunProjectionsOptions } from '../index.js';
import { choiceOption, integerOption, UsageError } from './usage-error.js';

/** The runner options as given on the command line (parseArgs values). */
export interface RunnerFlags {
  'batch-size'?: string;
  'poll-interval-ms'?: string;
  'lease-ttl-ms'?: string;
  'on-failure'?: string;
  'no-auto-rebuild'?: boolean;
  'worker-id'?: string;
}

const flagOf: Record<string, string> = {
  batchSize: '--batch-size',
  pollIntervalMs: '--poll-interval-ms',
  leaseTtlMs: '--lease-ttl-ms',
  onFailure: '--on-failure',
  workerId: '--worker-id',
};

/** runProjections options from the command line's flags. @throws UsageError on a malformed value */
export function runnerOptions(flags: RunnerFlags): RunProjectionsOptions {
  const options: RunProjectionsOptions = {};
  const batchSize = integerOption('--batch-size', flags['batch-size']);
  const pollIntervalMs = integerOption('--poll-interval-ms', flags['poll-interval-ms']);
  const leaseTtlMs = integerOption('--lease-ttl-ms', flags['lease-ttl-ms']);
  const onFailure = choiceOption('--on-failure', flags['on-failure'], ['dead-letter', 'stop']);
  if (batchSize !== undefined) options.batchSize = batchSize;
  if (pollIntervalMs !== undefined) options.pollIntervalMs = pollIntervalMs;
  if (leaseTtlMs !== undefined) options.leaseTtlMs = leaseTtlMs;
  if (onFailure !== undefined) options.onFailure = onFailure;
  if (flags['no-auto-rebuild']) options.autoRebuild = false;
  if (flags['worker-id'] !== undefined) options.workerId = flags['worker-id'];
  return options;
}

/**
 * runProjections, with its validation errors told in terms of the flags the user typed
 * (`--batch-size: ...` rather than `options.batchSize: ...`).
 */
export function startRunner(store: EventStore, projections: readonly AnyProjection[], options: RunProjectionsOptions): ProjectionRunner {
  try {
    return runProjections(store, projections, options);
  } catch (error) {
    if (error instanceof ValidationError) {
      const key = error.field.replace(/^options\./, '').split(/[.[]/)[0] ?? '';
      const flag = flagOf[key];
      if (flag) throw new UsageError(`${flag}: ${error.reason}`);
    }
    throw error;
  }
}
