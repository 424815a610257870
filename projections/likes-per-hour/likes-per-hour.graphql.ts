import { z } from 'zod';
import { ValidationError } from 'annals';
import { graphqlPart, readModel, type ReadContext } from 'annals/server';
import { likesPerHour } from './likes-per-hour.projection.js';

interface LikesPerHourTables {
  /** Per post and UTC hour: the likes given and taken back then. */
  post_likes_per_hour: { post_id: string; hour: Date; likes: number; unlikes: number };
}

const readLikesPerHour = readModel<LikesPerHourTables>(likesPerHour);

const hourMs = 3_600_000;
/** A month of hours: a chart's worth, and a bound on what one request reads. */
const maxRangeHours = 31 * 24;
const defaultRangeHours = 24;

const timestamp = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time with an offset (2024-03-30T21:00:00Z)' });
const argsSchema = z.object({
  postId: z.string().min(1, { error: 'must not be empty' }),
  from: timestamp.nullish(),
  to: timestamp.nullish(),
});

/** The hours asked for, `[from, to)`: by default the last 24 up to now; at most a month. */
function rangeOf(args: z.infer<typeof argsSchema>): { from: Date; to: Date } {
  const to = args.to == null ? new Date(Math.ceil(Date.now() / hourMs) * hourMs) : new Date(args.to);
  const from = args.from == null ? new Date(to.getTime() - defaultRangeHours * hourMs) : new Date(args.from);
  if (from >= to) throw new ValidationError([{ field: 'from', reason: `must be before to (${to.toISOString()})` }]);
  if (to.getTime() - from.getTime() > maxRangeHours * hourMs) {
    throw new ValidationError([{ field: 'to', reason: `must be at most ${maxRangeHours} hours (31 days) after from; ask for the rest in another request` }]);
  }
  return { from, to };
}

/**
 * `likesPerHour(postId, from, to)`: a post's likes given and taken back in each UTC hour
 * of `[from, to)` (ISO 8601; by default the last 24 hours), hours with neither left out,
 * oldest first. A bounded list, not a connection: a range holds at most 31 × 24 hours.
 *
 * @example
 * ```graphql
 * { likesPerHour(postId: "p1", from: "2024-03-30T00:00:00Z", to: "2024-03-31T00:00:00Z") { hour likes unlikes } }
 * ```
 */
export const likesPerHourGraphQL = graphqlPart({
  name: 'likes-per-hour',
  typeDefs: `"""One UTC hour of a post's likes."""
type HourlyLikes {
  """The hour's start (ISO 8601, UTC)."""
  hour: String!
  """Likes given in the hour."""
  likes: Int!
  """Likes taken back in the hour."""
  unlikes: Int!
}

extend type Query {
  """A post's likes per UTC hour in [from, to) (ISO 8601; default: the last 24 hours; at most 31 days), oldest first; hours without likes or unlikes are left out."""
  likesPerHour(postId: ID!, from: String, to: String): [HourlyLikes!]!
}`,
  resolvers: {
    Query: {
      likesPerHour: async (_root: unknown, args: Record<string, unknown>, context: ReadContext) => {
        const parsed = argsSchema.safeParse(args);
        if (!parsed.success) throw new ValidationError(parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), reason: issue.message })));
        const checked = parsed.data;
        const { from, to } = rangeOf(checked);
        const rows = await readLikesPerHour(context, (db) =>
          db
            .selectFrom('post_likes_per_hour')
            .select(['hour', 'likes', 'unlikes'])
            .where('post_id', '=', checked.postId)
            .where('hour', '>=', from)
            .where('hour', '<', to)
            .orderBy('hour')
            .execute(),
        );
        return rows.map((row) => ({ hour: row.hour.toISOString(), likes: row.likes, unlikes: row.unlikes }));
      },
    },
  },
});
