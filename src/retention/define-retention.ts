import { z } from 'zod';
import { categoryOf } from '../event-store/stream-name.js';
import { parseInput } from '../validation.js';

/**
 * How long a category's (or a stream's) events are kept. Each rule that is given marks
 * the events it expires; the retention job removes, per stream, the oldest events up to
 * the newest one marked, so what remains of a stream is always a suffix of it.
 */
export interface RetentionRule {
  /** Remove events recorded more than this many milliseconds ago (by the database's clock). */
  maxAgeMs?: number;
  /** Keep at most this many of each stream's newest events. */
  maxCount?: number;
  /** Remove every event of a stream once it is deleted (its tombstone, deleteStream). */
  afterDelete?: boolean;
  /** Remove the events truncateStream hid (versions before truncate_before). Default true. */
  truncated?: boolean;
}

export interface RetentionPolicy {
  /** Rules by stream category (`post` for `post-42`). */
  categories?: Record<string, RetentionRule>;
  /** Rules for single streams, replacing their category's; `'keep'` removes nothing of the stream. */
  streams?: Record<string, RetentionRule | 'keep'>;
  /** How often the service (`annals start`, startRetention) runs the job, in milliseconds (default 600,000: ten minutes). */
  runEveryMs?: number;
}

/** A checked policy: what runRetention enforces. */
export interface Retention {
  readonly kind: 'retention';
  readonly categories: ReadonlyMap<string, Required<Pick<RetentionRule, 'afterDelete' | 'truncated'>> & Pick<RetentionRule, 'maxAgeMs' | 'maxCount'>>;
  readonly streams: ReadonlyMap<string, (Required<Pick<RetentionRule, 'afterDelete' | 'truncated'>> & Pick<RetentionRule, 'maxAgeMs' | 'maxCount'>) | 'keep'>;
  readonly runEveryMs: number;
}

const ruleSchema = z
  .object(
    {
      maxAgeMs: z.number({ error: 'must be a number of milliseconds' }).int({ error: 'must be a whole number' }).positive({ error: 'must be > 0' }).optional(),
      maxCount: z.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).optional(),
      afterDelete: z.boolean({ error: 'must be true or false' }).optional(),
      truncated: z.boolean({ error: 'must be true or false' }).optional(),
    },
    { error: 'must be a rule { maxAgeMs?, maxCount?, afterDelete?, truncated? }' },
  )
  .strict();

const policySchema = z
  .object({
    categories: z.record(z.string().min(1), ruleSchema).optional(),
    streams: z.record(z.string().min(1), z.union([z.literal('keep'), ruleSchema], { error: "must be a rule or 'keep'" })).optional(),
    runEveryMs: z.number({ error: 'must be a number of milliseconds' }).int({ error: 'must be a whole number' }).min(1000, { error: 'must be at least 1000' }).optional(),
  })
  .strict();

const withDefaults = (rule: RetentionRule) => ({ ...rule, afterDelete: rule.afterDelete ?? false, truncated: rule.truncated ?? true });

/**
 * Declares what the retention job (`runRetention`, `annals retention run`) removes from
 * the log. Nothing a consumer of the log has yet to process is ever removed
 * (docs/retention.md).
 *
 * @throws ValidationError naming the field at fault.
 * @example
 * ```ts
 * const retention = defineRetention({
 *   categories: { session: { maxAgeMs: 30 * 86_400_000 }, post: { afterDelete: true } },
 *   streams: { 'session-audit': 'keep' },
 * });
 * ```
 */
export function defineRetention(policy: RetentionPolicy): Retention {
  const checked = parseInput(policySchema, policy, 'retention');
  return {
    kind: 'retention',
    categories: new Map(Object.entries(checked.categories ?? {}).map(([category, rule]) => [category, withDefaults(rule)])),
    streams: new Map(Object.entries(checked.streams ?? {}).map(([stream, rule]) => [stream, rule === 'keep' ? 'keep' : withDefaults(rule)])),
    runEveryMs: checked.runEveryMs ?? 600_000,
  };
}

/** The categories the policy can remove events of (for the rebuild's check and status). */
export function retainedCategories(retention: Retention): string[] {
  const categories = new Set(retention.categories.keys());
  for (const [stream, rule] of retention.streams) if (rule !== 'keep') categories.add(categoryOf(stream));
  return [...categories];
}
