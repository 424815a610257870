import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSchemaOf, runProjections } from '../../src/index.js';
import { likesPerHourGraphQL } from '../../projections/likes-per-hour/likes-per-hour.graphql.js';
import { likesPerHour } from '../../projections/likes-per-hour/likes-per-hour.projection.js';
import { documentedCurls, runDocumentedCurls } from './support/bank-service.js';
import { graphql, likesService } from './support/likes-service.js';

const likes = await likesService('gql_per_hour', { parts: [likesPerHourGraphQL], projections: [likesPerHour] });

const like = (postId: string, userId: string, source = 'web') => ({ type: 'LikeCreated', schemaVersion: 2, data: { postId, userId, source } });
const unlike = (postId: string, userId: string) => ({ type: 'LikeRemoved', data: { postId, userId } });

/** Appends `event` to the post's stream, recorded at `at` (a test cannot wait for the hours to pass). */
async function appendAt(at: string | undefined, event: ReturnType<typeof like> | ReturnType<typeof unlike>): Promise<void> {
  const { lastGlobalPosition } = await likes.store.appendToStream(`post-${event.data.postId}`, [event]);
  if (at === undefined) return;
  await likes.store.withTransaction(
    (tx) => tx.query(`UPDATE "${likes.store.schema}".events SET recorded_at = $1 WHERE global_position = $2`, [at, String(lastGlobalPosition)]),
    { appends: false },
  );
}

beforeAll(async () => {
  await appendAt('2024-03-30T10:15:00Z', like('lp1', 'ada'));
  await appendAt('2024-03-30T10:40:00Z', like('lp1', 'grace', 'mobile'));
  await appendAt('2024-03-30T10:20:00Z', like('lp2', 'ada'));
  await appendAt('2024-03-30T11:05:00Z', like('lp1', 'linus'));
  await appendAt('2024-03-30T11:30:00Z', unlike('lp1', 'ada'));
  await appendAt(undefined, like('lp3', 'ada'));
  await likes.catchUp();
});

const query = `query ($postId: ID!, $from: String, $to: String) { likesPerHour(postId: $postId, from: $from, to: $to) { hour likes unlikes } }`;

describe('likesPerHour', () => {
  it("answers a post's likes and unlikes per UTC hour of the range, oldest first", async () => {
    const url = await likes.start();
    const day = { from: '2024-03-30T00:00:00Z', to: '2024-03-31T00:00:00Z' };
    expect((await graphql(url, query, { postId: 'lp1', ...day })).data).toEqual({
      likesPerHour: [
        { hour: '2024-03-30T10:00:00.000Z', likes: 2, unlikes: 0 },
        { hour: '2024-03-30T11:00:00.000Z', likes: 1, unlikes: 1 },
      ],
    });
    expect((await graphql(url, query, { postId: 'lp2', ...day })).data).toEqual({ likesPerHour: [{ hour: '2024-03-30T10:00:00.000Z', likes: 1, unlikes: 0 }] });
    expect((await graphql(url, query, { postId: 'nobody-liked', ...day })).data).toEqual({ likesPerHour: [] });
  });

  it('keeps to [from, to), in any offset', async () => {
    const url = await likes.start();
    const answer = await graphql(url, query, { postId: 'lp1', from: '2024-03-30T12:00:00+01:00', to: '2024-03-30T12:00:00Z' });
    expect(answer.data).toEqual({ likesPerHour: [{ hour: '2024-03-30T11:00:00.000Z', likes: 1, unlikes: 1 }] });
  });

  it('covers the last 24 hours by default', async () => {
    const url = await likes.start();
    const answer = await graphql(url, query, { postId: 'lp3' });
    const [event] = await likes.store.readStream('post-lp3');
    const hour = new Date(Math.floor(event!.recordedAt.getTime() / 3_600_000) * 3_600_000).toISOString();
    expect(answer.data).toEqual({ likesPerHour: [{ hour, likes: 1, unlikes: 0 }] });
    expect((await graphql(url, query, { postId: 'lp1' })).data).toEqual({ likesPerHour: [] });
  });

  it('counts per post what the per-source table counts per hour: the two tables of version 2 agree', async () => {
    const schema = readSchemaOf(likes.store.schema, likesPerHour);
    const sums = (table: string) =>
      likes.store.withTransaction((tx) =>
        tx.query<{ hour: Date; likes: number; unlikes: number }>(
          `SELECT hour, sum(likes)::int AS likes, sum(unlikes)::int AS unlikes FROM "${schema}"."${table}" GROUP BY hour ORDER BY hour`,
        ),
      );
    const perPost = await sums('post_likes_per_hour');
    expect(perPost.length).toBeGreaterThanOrEqual(3);
    expect(perPost).toEqual(await sums('likes_per_hour'));
  });

  it.each([
    [{ postId: '' }, 'postId', 'must not be empty'],
    [{ postId: 'lp1', from: 'yesterday' }, 'from', 'must be an ISO 8601 date and time with an offset (2024-03-30T21:00:00Z)'],
    [{ postId: 'lp1', from: '2024-03-30T11:00:00Z', to: '2024-03-30T11:00:00Z' }, 'from', 'must be before to (2024-03-30T11:00:00.000Z)'],
    [{ postId: 'lp1', from: '2024-01-01T00:00:00Z', to: '2024-03-01T00:00:00Z' }, 'to', 'must be at most 744 hours (31 days) after from; ask for the rest in another request'],
  ])('refuses %j as BAD_USER_INPUT on %s', async (variables, field, reason) => {
    const url = await likes.start();
    const answer = await graphql(url, query, variables);
    expect(answer.errors).toEqual([expect.objectContaining({ path: ['likesPerHour'], extensions: { code: 'BAD_USER_INPUT', issues: [{ field, reason }] } })]);
  });
});

// docs/graphql.md shows the likes domain with curl, likesPerHour last: each command runs
// as written (the real curl, a listening service, workers running) and prints the
// answer the page shows.
it('the likes curl examples in docs/graphql.md answer what the page shows', { timeout: 120_000 }, async () => {
  const url = await likes.start();
  const examples = documentedCurls(await readFile('docs/graphql.md', 'utf8'), '### Likes');
  expect(examples.map((example) => example.command).join('\n')).toContain('likesPerHour');
  const workers = runProjections(likes.store, likes.projections, { pollIntervalMs: 5_000 });
  try {
    await workers.ready;
    expect(await runDocumentedCurls(url, examples)).toEqual(examples.map((example) => example.answer));
  } finally {
    await workers.stop();
  }
});
