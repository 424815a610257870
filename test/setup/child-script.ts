// The child's side of child-process.ts, for the scripts a test starts and kills. No vitest
// import here, directly or not: these scripts run under plain node.

/** The environment variable `name`; its absence ends the script with exit code 2. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

/**
 * Tells the test what happened: one JSON object per line on stdout, `kind` and `details`
 * with the time (`at`, ms since the epoch); bigints (positions) as strings.
 */
export function print(kind: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ at: Date.now(), kind, ...details }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
}
