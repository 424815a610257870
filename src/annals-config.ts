import type { Consumer } from './consumers/define-consumer.js';
import type { AnyProjection } from './projections/define-projection.js';

/**
 * What `annals.config.ts` exports by default: the projections and consumers the commands
 * work on, the store's schema and which projections are applied inline with each append.
 *
 * @example
 * ```ts
 * // annals.config.ts
 * import { likeCounts } from './projections/like-counts/like-counts.projection.ts';
 * import { welcomeMails } from './consumers/welcome-mails.ts';
 * export default { schema: 'annals', projections: [likeCounts], consumers: [welcomeMails] } satisfies AnnalsConfig;
 * ```
 */
export interface AnnalsConfig {
  /** The store's Postgres schema (default: `ANNALS_SCHEMA`, else `annals`). */
  schema?: string;
  projections: AnyProjection[];
  /** Names of the projections applied inline (see withInlineProjections). */
  inline?: string[];
  /** Consumers made with defineConsumer, for `annals consumers ...` (default none). */
  consumers?: Consumer[];
}
