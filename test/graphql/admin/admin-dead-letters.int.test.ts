import { describe, expect, it } from 'vitest';
import { catchUpProjections, listDeadLetters, ValidationError } from '../../../src/index.js';
import { likeCountsProjection } from '../../projections/support/like-counts.js';
import { admin, adminService, ask, dataOf } from './support/admin-service.js';

let broken = true;
const flaky = likeCountsProjection({ name: 'flaky', categories: ['flaky'], failOn: (postId) => broken && postId.startsWith('bad') });
// Its code is not given to the admin part: listed, skippable, not retryable here.
const orphan = likeCountsProjection({ name: 'orphan', categories: ['orphan'], failOn: () => true });
const service = await adminService('admin_dead_letters', [flaky]);
const { store } = service;

const like = (category: string, postId: string) =>
  store.appendToStream(`${category}-${postId}`, [{ type: 'LikeCreated', data: { postId, userId: 'ada' }, schemaVersion: 2 }]);
const fast = { retries: { attempts: 2, minDelayMs: 1, maxDelayMs: 5 } };

const list = `query ($projection: String, $status: DeadLetterStatusFilter, $first: Int, $after: String) {
  deadLetters(projection: $projection, status: $status, first: $first, after: $after) {
    edges { cursor node { id projection generation partition position eventId streamId streamVersion eventType error attempts status failedAt resolvedAt event { id type data streamId } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Letter {
  id: string;
  projection: string;
  streamId: string;
  status: string;
  position: string;
  error: string;
  resolvedAt: string | null;
  event: { id: string; type: string; data: { postId: string }; streamId: string } | null;
}
interface Page {
  deadLetters: { edges: { cursor: string; node: Letter }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

// Three dead letters of flaky, one of orphan: set up once for the file.
for (const postId of ['bad-1', 'good', 'bad-2', 'bad-3']) await like('flaky', postId);
await like('orphan', 'any');
await catchUpProjections(store, [flaky], fast);
await catchUpProjections(store, [orphan], fast);

describe('dead letters over the admin schema', () => {
  it('lists the pending ones of every projection, oldest first, with their events, page by page', async () => {
    const url = await service.startAs(admin);
    const seen: Letter[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: Page = dataOf<Page>(await ask(url, list, { first: 2, after }));
      seen.push(...page.deadLetters.edges.map((edge) => edge.node));
      if (!page.deadLetters.pageInfo.hasNextPage) break;
      after = page.deadLetters.pageInfo.endCursor;
    }
    expect(seen.map((letter) => [letter.projection, letter.streamId])).toEqual([
      ['flaky', 'flaky-bad-1'],
      ['flaky', 'flaky-bad-2'],
      ['flaky', 'flaky-bad-3'],
      ['orphan', 'orphan-any'],
    ]);
    expect(seen.every((letter) => letter.status === 'PENDING' && letter.resolvedAt === null)).toBe(true);
    const [first] = seen;
    expect(first!.error).toContain('refusing post bad-1');
    // The event as stored (not upcast: this is the log, for audit).
    expect(first!.event).toEqual({ id: expect.any(String), type: 'LikeCreated', data: { postId: 'bad-1', userId: 'ada' }, streamId: 'flaky-bad-1' });
    const positions = seen.map((letter) => BigInt(letter.position));
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
  });

  it('pages the same through listDeadLetters (after: an id), which refuses an after that is no id, naming it', async () => {
    const all = await listDeadLetters(store, { status: 'all' });
    const rest = await listDeadLetters(store, { status: 'all', after: all[0]!.id });
    expect(rest.map((letter) => letter.id)).toEqual(all.slice(1).map((letter) => letter.id));
    await expect(listDeadLetters(store, { after: 'abc' })).rejects.toThrow(ValidationError);
    await expect(listDeadLetters(store, { after: 'abc' })).rejects.toMatchObject({ field: 'options.after' });
  });

  it("loads the events of a page's dead letters in one read", async () => {
    const url = await service.startAs(admin);
    const statements = await service.statements.during(() => ask(url, list, { first: 10 }));
    expect(statements.filter((text) => /"event_id" = any/i.test(text))).toHaveLength(1);
  });

  it('retries one after the fix, skips another, and filters by projection and status', async () => {
    const url = await service.startAs(admin);
    const pending = dataOf<Page>(await ask(url, list, { projection: 'flaky' })).deadLetters.edges.map((edge) => edge.node);
    expect(pending).toHaveLength(3);
    const [one, two] = pending;

    broken = false;
    const retried = await ask(url, `mutation ($id: ID!) { retryDeadLetter(id: $id) { id status resolvedAt } }`, { id: one!.id });
    expect(dataOf(retried)).toEqual({ retryDeadLetter: { id: one!.id, status: 'RETRIED', resolvedAt: expect.any(String) } });
    const skipped = await ask(url, `mutation ($id: ID!) { skipDeadLetter(id: $id) { id status } }`, { id: two!.id });
    expect(dataOf(skipped)).toEqual({ skipDeadLetter: { id: two!.id, status: 'SKIPPED' } });

    const byStatus = async (status: string) =>
      dataOf<Page>(await ask(url, list, { projection: 'flaky', status })).deadLetters.edges.map((edge) => edge.node.id);
    expect(await byStatus('PENDING')).toEqual([pending[2]!.id]);
    expect(await byStatus('RETRIED')).toEqual([one!.id]);
    expect(await byStatus('SKIPPED')).toEqual([two!.id]);
    expect(await byStatus('ALL')).toEqual(pending.map((letter) => letter.id));

    // Retrying it again is the store's refusal, with its code.
    const again = await ask(url, `mutation ($id: ID!) { retryDeadLetter(id: $id) { id } }`, { id: one!.id });
    expect(again.errors?.[0]).toMatchObject({ path: ['retryDeadLetter'], extensions: { code: 'ANNALS_DEAD_LETTER' } });
  });

  it('cannot retry a dead letter of a projection whose code it does not have, but can skip it', async () => {
    const url = await service.startAs(admin);
    const [letter] = dataOf<Page>(await ask(url, list, { projection: 'orphan' })).deadLetters.edges.map((edge) => edge.node);
    const retry = await ask(url, `mutation ($id: ID!) { retryDeadLetter(id: $id) { id } }`, { id: letter!.id });
    expect(retry.errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [{ field: 'id', reason: expect.stringContaining("projection 'orphan', whose code this service does not have") }],
    });
    const skip = await ask(url, `mutation ($id: ID!) { skipDeadLetter(id: $id) { status } }`, { id: letter!.id });
    expect(dataOf(skip)).toEqual({ skipDeadLetter: { status: 'SKIPPED' } });
  });

  it('many operators skipping the same dead letter at once: one succeeds, the others are told it is resolved', async () => {
    await like('flaky', 'bad-race');
    broken = true;
    await catchUpProjections(store, [flaky], fast);
    broken = false;
    const url = await service.startAs(admin);
    const letter = dataOf<Page>(await ask(url, list, { projection: 'flaky' })).deadLetters.edges.find((edge) => edge.node.streamId === 'flaky-bad-race')?.node;
    expect(letter).toBeDefined();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        ask(url, i % 2 ? `mutation ($id: ID!) { skipDeadLetter(id: $id) { status } }` : `mutation ($id: ID!) { retryDeadLetter(id: $id) { status } }`, { id: letter!.id }),
      ),
    );
    const succeeded = answers.filter((answer) => answer.errors === undefined);
    expect(succeeded).toHaveLength(1);
    for (const answer of answers.filter((a) => a.errors !== undefined)) expect(answer.errors?.[0]?.extensions.code).toBe('ANNALS_DEAD_LETTER');
  });

  it('refuses bad input with BAD_USER_INPUT naming the argument', async () => {
    const url = await service.startAs(admin);
    const cases: [string, Record<string, unknown>, string][] = [
      [`mutation { retryDeadLetter(id: "forty-two") { id } }`, {}, 'id'],
      [`mutation { skipDeadLetter(id: "-1") { id } }`, {}, 'id'],
      [list, { first: 0 }, 'first'],
      [list, { first: 101 }, 'first'],
      [list, { after: 'not-a-cursor' }, 'after'],
      [list, { projection: '' }, 'projection'],
    ];
    for (const [query, variables, field] of cases) {
      const answer = await ask(url, query, variables);
      expect(answer.errors?.[0]?.extensions, JSON.stringify(variables)).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field })] });
    }
    const status = await ask(url, list, { status: 'LOST' });
    expect(status.status).toBe(400);
    expect(status.errors?.[0]?.message).toContain('$status');
  });
});
