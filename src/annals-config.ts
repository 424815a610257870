import type { AnyProjection } from './projections/define-projection.js';

/**
 * What `annals.config.ts` exports by default: the projections the commands work on, the
 * store's schema and which projections are applied inline with each append.
 *
 * @example
 * ```ts
 * // annals.config.ts
 * import { likeCounts } from './projections/like-counts/like-counts.projection.ts';
 * export default { schema: 'annals', projections: [likeCounts] } satisfies AnnalsConfig;
 * ```
 */
export interface AnnalsConfig {
  /** The store's Postgres schema (default: `ANNALS_SCHEMA`, else `annals`). */
  schema?: string;
  projections: AnyProjection[];
  /** Names of the projections applied inline (see withInlineProjections). */
  inline?: string[];
}
