/**
 * The workload of the projection-replay figure: a deterministic log of likes on posts
 * (stream per post, `post-<postId>`), and the like count per post that replaying it must
 * produce, computed here in JS so that every contestant's read model can be checked.
 *
 * Events are produced in the order they would have happened (posts interleaved), and
 * handed to loaders in segments: each segment groups its events by stream, keeping each
 * stream's order, so a loader can append a stream's share of a segment in one call while
 * the log still interleaves posts the way a real one does.
 */

/** A like; `source` is optional, as fields added to an event type over time are. */
export interface LikeCreated {
  type: 'LikeCreated';
  data: { postId: string; userId: string; source?: string };
}

/** Takes back an earlier like of the same user on the same post. */
export interface LikeRemoved {
  type: 'LikeRemoved';
  data: { postId: string; userId: string };
}

export type LikeEvent = LikeCreated | LikeRemoved;

export interface LikeWorkloadOptions {
  /** Events in the whole log. */
  events: number;
  /** Posts (streams) they are spread over. */
  posts: number;
  /** Seed of the generator: the same options always give the same log. */
  seed: number;
  /** Share of events that remove an earlier like (when the chosen post has one). */
  removeShare: number;
}

function intFromEnv(name: string, fallback: number): number {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The figure's workload: 1,000,000 events over 10,000 posts (about 100 per stream),
 * ~20% of them removals. REPLAY_EVENTS and REPLAY_POSTS shrink it for quick runs.
 */
export function defaultWorkload(): LikeWorkloadOptions {
  return {
    events: intFromEnv('REPLAY_EVENTS', 1_000_000),
    posts: intFromEnv('REPLAY_POSTS', 10_000),
    seed: 20_240_601,
    removeShare: 0.2,
  };
}

export const streamIdOf = (postId: string): string => `post-${postId}`;

/** mulberry32: a tiny seeded PRNG, so the log is the same in every process and run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// The sources the likes domain knows (domain/likes/likes.events.ts).
const sources = ['web', 'mobile', 'api'] as const;

/**
 * Every event of the log, oldest first. A removal always names a like that is still in
 * force on that post (it is taken out of the post's likers), so no count goes below 0.
 * Posts are chosen uniformly; users from a pool of 100,000.
 */
export function* likeEvents(options: LikeWorkloadOptions): Generator<LikeEvent> {
  const next = random(options.seed);
  // Users whose like on the post is in force, by post index; a removal takes one at random.
  const likers: string[][] = Array.from({ length: options.posts }, () => []);
  for (let index = 0; index < options.events; index++) {
    const post = Math.floor(next() * options.posts);
    const postId = String(post);
    const postLikers = likers[post]!;
    if (postLikers.length > 0 && next() < options.removeShare) {
      const at = Math.floor(next() * postLikers.length);
      const userId = postLikers[at]!;
      // Swap-remove: the order of likers does not matter, only who they are.
      postLikers[at] = postLikers[postLikers.length - 1]!;
      postLikers.pop();
      yield { type: 'LikeRemoved', data: { postId, userId } };
    } else {
      const userId = `user-${Math.floor(next() * 100_000)}`;
      postLikers.push(userId);
      const pick = Math.floor(next() * 4);
      // One like in four has no source: replays must cope with an optional field.
      yield pick < sources.length
        ? { type: 'LikeCreated', data: { postId, userId, source: sources[pick]! } }
        : { type: 'LikeCreated', data: { postId, userId } };
    }
  }
}

/**
 * Segments the log is loaded in: enough that each append carries about 10 events of one
 * stream (10 segments for 1,000,000 events over 10,000 posts), so the log interleaves
 * posts as a real one does instead of holding each post's events in one block, and
 * loading stays a matter of seconds. Every contestant loads the same segments.
 */
export function loadSegments(workload: LikeWorkloadOptions): number {
  return Math.max(1, Math.round(workload.events / workload.posts / 10));
}

/**
 * The log cut into `segments` consecutive segments, each as its events grouped by stream
 * (streams in order of first appearance, each stream's events in log order). Loading the
 * segments one after another keeps every stream's order; within a segment, streams are
 * disjoint and can be appended concurrently.
 */
export function* likeSegments(options: LikeWorkloadOptions, segments: number): Generator<Map<string, LikeEvent[]>> {
  const size = Math.ceil(options.events / segments);
  let segment = new Map<string, LikeEvent[]>();
  let inSegment = 0;
  for (const event of likeEvents(options)) {
    const streamId = streamIdOf(event.data.postId);
    const events = segment.get(streamId);
    if (events) events.push(event);
    else segment.set(streamId, [event]);
    if (++inSegment === size) {
      yield segment;
      segment = new Map();
      inSegment = 0;
    }
  }
  if (inSegment > 0) yield segment;
}

/**
 * The like count per postId after the whole log: +1 per LikeCreated, -1 per LikeRemoved.
 * A post whose likes were all removed counts 0 (it has a row); a post no event named has none.
 */
export function expectedLikeCounts(options: LikeWorkloadOptions): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of likeEvents(options)) {
    counts.set(event.data.postId, (counts.get(event.data.postId) ?? 0) + (event.type === 'LikeCreated' ? 1 : -1));
  }
  return counts;
}

/**
 * Throws unless the read model's rows are exactly the expected counts: the same posts,
 * the same numbers. A replay that is fast but wrong must not produce a figure.
 */
export function verifyLikeCounts(rows: readonly { post_id: string; likes: number | string }[], expected: Map<string, number>): void {
  const problems: string[] = [];
  if (rows.length !== expected.size) problems.push(`${rows.length} rows, expected ${expected.size}`);
  for (const row of rows) {
    const want = expected.get(row.post_id);
    if (want === undefined) problems.push(`unexpected post ${row.post_id}`);
    else if (Number(row.likes) !== want) problems.push(`post ${row.post_id}: ${row.likes} likes, expected ${want}`);
    if (problems.length >= 5) break;
  }
  if (problems.length > 0) throw new Error(`like_counts is wrong: ${problems.join('; ')}`);
}
