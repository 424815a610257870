/**
 * Bad input on the command line (an unknown command or option, a malformed value, a
 * config that does not load): reported as one line on stderr, exit code 2, no stack.
 * It never leaves the CLI, so it is not an AnnalsError with a registered code.
 *
 * @example
 * ```ts
 * throw new UsageError(`--from must be a global position (a whole number >= 0), got '${value}'`);
 * ```
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes of the `annals` command (docs/cli.md). */
export const ExitCodes = {
  ok: 0,
  /**
   * The command ran and failed: a database it cannot connect to, a schema not migrated,
   * another database error, a handler that fails again, a stopped partition.
   */
  failed: 1,
  /**
   * Bad input: unknown command, option, projection or id; a malformed value or config; a
   * DATABASE_URL that is not a Postgres URL, or none with NODE_ENV=production.
   */
  usage: 2,
  /** Interrupted (SIGINT/SIGTERM) before the work was done, e.g. a rebuild; re-running resumes it. */
  interrupted: 130,
} as const;

/**
 * A non-negative whole number given for `flag`, or undefined when the flag is absent.
 *
 * @example
 * ```ts
 * integerOption('--batch-size', '200'); // 200
 * ```
 */
export function integerOption(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new UsageError(`${flag} must be a whole number, got '${value}'`);
  return Number(value);
}

/**
 * A global position given for `flag` (a bigint: positions go past 2^53).
 *
 * @example
 * ```ts
 * positionOption('--from', '4294967296'); // 4294967296n
 * ```
 */
export function positionOption(flag: string, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > 2n ** 63n - 1n) {
    throw new UsageError(`${flag} must be a global position (a whole number >= 0), got '${value}'`);
  }
  return BigInt(value);
}

/** One of `choices` given for `flag`, or undefined when the flag is absent. */
export function choiceOption<const C extends string>(flag: string, value: string | undefined, choices: readonly C[]): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got '${value}'`);
  }
  return value as C;
}
