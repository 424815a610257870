/**
 * The `annals` command's config for this repository: the example projections
 * (projections/index.ts) on the store in DATABASE_URL (or the embedded PGlite), and the
 * GraphQL service over the example domains that `npm start` (`annals start`) runs.
 *
 * @example
 * ```sh
 * npm start                                # the service and the workers, one process
 * npm run annals -- serve --migrate        # the API alone (any number of these)
 * npm run annals -- projections run        # the workers alone
 * npm run annals -- status
 * ```
 */
import { likeMutations } from './domain/likes/likes.graphql.js';
import { exampleProjections, notificationsProjection } from './projections/index.js';
import { likeCountsGraphQL } from './projections/like-counts/like-counts.graphql.js';
import { likesPerHourGraphQL } from './projections/likes-per-hour/likes-per-hour.graphql.js';
import { notificationsGraphQL } from './projections/notifications/notifications.graphql.js';
import { userLikesGraphQL } from './projections/user-likes/user-likes.graphql.js';
import type { AnnalsConfig } from './src/cli/config.js';

const notifications = notificationsProjection({
  // The example has no push service: a notification is a line on stderr (stdout carries the JSON logs).
  send: async (notification) => {
    process.stderr.write(`notification for post ${notification.postId}: ${notification.message}\n`);
  },
});

export default {
  schema: process.env.ANNALS_SCHEMA || 'annals',
  projections: exampleProjections(notifications),
  service: {
    parts: [likeMutations, likeCountsGraphQL, userLikesGraphQL, notificationsGraphQL(notifications), likesPerHourGraphQL],
  },
} satisfies AnnalsConfig;
