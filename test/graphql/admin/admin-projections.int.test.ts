import { describe, expect, it } from 'vitest';
import { catchUpProjections, ProjectionStoppedError, runProjections } from '../../../src/index.js';
import { likeCounts } from '../../../projections/like-counts/like-counts.projection.js';
import { likeCountsProjection } from '../../projections/support/like-counts.js';
import { eventually } from '../../setup/database.js';
import { startService } from '../../server/support/http.js';
import { admin, adminService, ask, dataOf, writer } from './support/admin-service.js';

const halting = likeCountsProjection({ name: 'halting', categories: ['halting'], failOn: (postId) => postId === 'bad' });
const service = await adminService('admin_projections', [halting]);
const { store } = service;

const likePost = `mutation ($postId: ID!, $userId: ID!) { likePost(postId: $postId, userId: $userId) { position } }`;
const report = `{
  projections {
    head
    projections {
      name codeVersion pendingDeadLetters
      live { generation version status lag oldestUnprocessedAgeMs partitions { partition checkpoint lag owner stoppedError } }
      building { generation status rebuildProgress }
    }
  }
}`;

interface Report {
  projections: {
    head: string;
    projections: {
      name: string;
      codeVersion: number | null;
      pendingDeadLetters: number;
      live: { generation: number; version: number; status: string; lag: number; oldestUnprocessedAgeMs: number | null; partitions: { stoppedError: string | null }[] } | null;
      building: { generation: number; status: string; rebuildProgress: number } | null;
    }[];
  };
}

const projectionIn = (answer: Report, name: string) => answer.projections.projections.find((p) => p.name === name);

describe('every admin field needs the admin role', () => {
  const fields = [
    ['projections', '{ projections { head } }'],
    ['deadLetters', '{ deadLetters { edges { cursor } } }'],
    ['stream', '{ stream(id: "post-1") { id } }'],
    ['events', '{ events { edges { cursor } } }'],
    ['rebuildProjection', 'mutation { rebuildProjection(name: "like-counts") { generation } }'],
    ['retryDeadLetter', 'mutation { retryDeadLetter(id: "1") { id } }'],
    ['skipDeadLetter', 'mutation { skipDeadLetter(id: "1") { id } }'],
    ['resumeProjection', 'mutation { resumeProjection(name: "like-counts") { partitions } }'],
  ] as const;

  it('without a principal: UNAUTHENTICATED, on each field, before its arguments are looked at', async () => {
    const url = await service.startAs(undefined);
    for (const [field, query] of fields) {
      const answer = await ask(url, query);
      expect(answer.errors, field).toEqual([expect.objectContaining({ path: [field], extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    }
    // Bad arguments too: the role comes first, so nothing about the input is revealed.
    const bad = await ask(url, '{ stream(id: "") { id } }');
    expect(bad.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('with a principal lacking the role: FORBIDDEN, and nothing is done', async () => {
    const url = await service.startAs(writer);
    for (const [field, query] of fields) {
      const answer = await ask(url, query);
      expect(answer.errors, field).toEqual([expect.objectContaining({ path: [field], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
    }
    const asAdmin = await service.startAs(admin);
    const { projections } = dataOf<Report>(await ask(asAdmin, report));
    expect(projections.projections.find((p) => p.name === 'like-counts')?.building ?? null).toBeNull();
  });
});

describe('admin fields behind real bearer tokens (API keys)', () => {
  it("an admin's key is let in, a writer's is FORBIDDEN, none is UNAUTHENTICATED", async () => {
    const { url } = await startService({
      store,
      ...service.composed,
      security: {
        apiKeys: [
          { name: 'ops', key: 'ops-admin-key-0123456789abcdef', roles: ['admin'] },
          { name: 'shop', key: 'shop-writer-key-0123456789abcdef', roles: ['writer'] },
        ],
      },
    });
    const query = '{ projections { head } }';
    const asAdmin = await ask(url, query, {}, { authorization: 'Bearer ops-admin-key-0123456789abcdef' });
    expect(dataOf<{ projections: { head: string } }>(asAdmin).projections.head).toMatch(/^\d+$/);
    const asWriter = await ask(url, query, {}, { authorization: 'Bearer shop-writer-key-0123456789abcdef' });
    expect(asWriter.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    const anonymous = await ask(url, query);
    expect(anonymous.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('projections over the admin schema', () => {
  it('reports each projection: the code this service has, its live generation, its lag as it falls behind and catches up', async () => {
    const url = await service.startAs(admin);
    await ask(url, likePost, { postId: 'p1', userId: 'ada' });
    await service.catchUp();
    await ask(url, likePost, { postId: 'p1', userId: 'grace' });
    await ask(url, likePost, { postId: 'p2', userId: 'grace' });

    const behind = dataOf<Report>(await ask(url, report));
    expect(behind.projections.head).toMatch(/^\d+$/);
    const counts = projectionIn(behind, 'like-counts')!;
    expect(counts).toMatchObject({ codeVersion: likeCounts.version, pendingDeadLetters: 0, building: null });
    expect(counts.live).toMatchObject({ generation: 1, version: likeCounts.version, status: 'LIVE', lag: 2 });
    expect(counts.live!.oldestUnprocessedAgeMs).toBeGreaterThanOrEqual(0);
    // Not given to the admin part: known from the database only.
    expect(projectionIn(behind, 'notifications')).toMatchObject({ codeVersion: null, live: { status: 'LIVE', lag: 2 } });
    // Given, never set up: listed without generations.
    expect(projectionIn(behind, 'halting')).toMatchObject({ codeVersion: 1, live: null, building: null });

    await service.catchUp();
    const caughtUp = dataOf<Report>(await ask(url, report));
    expect(projectionIn(caughtUp, 'like-counts')!.live).toMatchObject({ lag: 0, oldestUnprocessedAgeMs: null });
  });

  it('starts a rebuild that the running workers complete: readers are switched to the new generation', async () => {
    const url = await service.startAs(admin);
    for (const userId of ['u1', 'u2', 'u3']) await ask(url, likePost, { postId: 'r1', userId });
    await service.catchUp();
    const runner = runProjections(store, [likeCounts], { pollIntervalMs: 50 });
    try {
      await runner.ready;
      const rebuild = `mutation { rebuildProjection(name: "like-counts") { projection generation version status from resumed } }`;
      // Many operators at once: one rebuild, the others are told it is under way.
      const answers = await Promise.all(Array.from({ length: 6 }, () => ask(url, rebuild)));
      const started = answers.map((answer) => dataOf<{ rebuildProjection: { generation: number; resumed: boolean } }>(answer).rebuildProjection);
      const generation = started[0]!.generation;
      expect(generation).toBeGreaterThan(1);
      expect(started.every((s) => s.generation === generation)).toBe(true);
      expect(started).toContainEqual({ projection: 'like-counts', generation, version: likeCounts.version, status: 'BUILDING', from: '0', resumed: false });

      await eventually(async () => {
        const counts = projectionIn(dataOf<Report>(await ask(url, report)), 'like-counts')!;
        expect(counts.building).toBeNull();
        expect(counts.live).toMatchObject({ generation, lag: 0 });
      }, 30_000);
      // The rebuilt read model answers, with every like replayed.
      const post = await ask(url, `{ post(id: "r1") { likes } }`);
      expect(dataOf(post)).toEqual({ post: { likes: 3 } });
    } finally {
      await runner.stop();
    }
  });

  it('refuses a rebuild of a projection it has no code for, or from a position that is not one: BAD_USER_INPUT naming the argument', async () => {
    const url = await service.startAs(admin);
    const unknown = await ask(url, `mutation { rebuildProjection(name: "notifications") { generation } }`);
    expect(unknown.errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [{ field: 'name', reason: expect.stringContaining("no code for projection 'notifications'") }],
    });
    const badFrom = await ask(url, `mutation { rebuildProjection(name: "like-counts", from: "ten") { generation } }`);
    expect(badFrom.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', issues: [{ field: 'from', reason: expect.stringContaining('string of digits') }] });
  });

  it('resumes the partitions a failure stopped, and reports them stopped until then', async () => {
    const url = await service.startAs(admin);
    await store.appendToStream('halting-bad', [{ type: 'LikeCreated', data: { postId: 'bad', userId: 'ada' }, schemaVersion: 2 }]);
    await expect(catchUpProjections(store, [halting], { retries: { attempts: 1 }, onFailure: 'stop' })).rejects.toBeInstanceOf(ProjectionStoppedError);
    const stopped = projectionIn(dataOf<Report>(await ask(url, report)), 'halting')!;
    expect(stopped.live!.partitions[0]!.stoppedError).toContain('refusing post bad');
    const resumed = await ask(url, `mutation { resumeProjection(name: "halting") { projection partitions } }`);
    expect(dataOf(resumed)).toEqual({ resumeProjection: { projection: 'halting', partitions: 1 } });
    const again = projectionIn(dataOf<Report>(await ask(url, report)), 'halting')!;
    expect(again.live!.partitions[0]!.stoppedError).toBeNull();
  });
});
