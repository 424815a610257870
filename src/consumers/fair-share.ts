/**
 * How many partitions a worker should hold: its fair share of the units that can be
 * processed, among the live workers running the same consumer at the same version.
 * Rounded up, so that every unit has an owner even when the division is uneven; a worker
 * above its share gives back the surplus, which another worker below its share claims.
 *
 * @example
 * ```ts
 * fairShare({ units: 8, workers: 3, held: 1 }); // { claim: 2, release: 0 }
 * ```
 */
export function fairShare({ units, workers, held }: { units: number; workers: number; held: number }): { claim: number; release: number } {
  const share = Math.ceil(units / Math.max(1, workers));
  if (held > share) return { claim: 0, release: held - share };
  return { claim: share - held, release: 0 };
}
