/**
 * The `annals` command's config for this repository: the example projections
 * (projections/index.ts) on the store in DATABASE_URL (or the embedded PGlite).
 *
 * @example
 * ```sh
 * npm run annals -- migrate
 * npm run annals -- projections run
 * npm run annals -- status
 * ```
 */
import { exampleProjections } from './projections/index.js';
import type { AnnalsConfig } from './src/cli/config.js';

export default {
  schema: process.env.ANNALS_SCHEMA || 'annals',
  projections: exampleProjections({
    // The example has no push service: a notification is a line on stderr (stdout carries the JSON logs).
    send: async (notification) => {
      process.stderr.write(`notification for post ${notification.postId}: ${notification.message}\n`);
    },
  }),
} satisfies AnnalsConfig;
