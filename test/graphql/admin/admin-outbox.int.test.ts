import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PublishError } from '../../../src/index.js';
import { defineOutbox } from '../../../src/outbox/define-outbox.js';
import type { OutboxMessage } from '../../../src/outbox/message.js';
import { listParkedMessages } from '../../../src/outbox/parked-messages.js';
import { RecordingPublisher } from '../../outbox/support/recording-publisher.js';
import { relays } from '../../outbox/support/relay-harness.js';
import { eventually } from '../../setup/database.js';
import { startService } from '../../server/support/http.js';
import { adminService, ask, dataOf } from './support/admin-service.js';

const service = await adminService('admin_outbox');
const { store } = service;
const start = relays();

const adminKey = 'ops-admin-key-0123456789abcdef';
const writerKey = 'shop-writer-key-0123456789abcdef';
const asAdmin = { authorization: `Bearer ${adminKey}` };

/** Refuses, for good, the first message of each key in `poisoned`. */
const poisoned = new Set(['aob-bad', 'aob-skip']);
const publisher = new RecordingPublisher({
  fail: (message: OutboxMessage) =>
    poisoned.has(message.key) && (message.payload as { n: number }).n === 1
      ? new PublishError({ destination: message.destination, messageId: message.id }, 'too large', { retryable: false })
      : undefined,
});
const outbox = defineOutbox({
  name: 'admin-out',
  partitions: 2,
  destinations: { out: { publisher } },
  routes: [{ destination: 'out', categories: ['aob'], schema: z.object({ n: z.number() }) }],
});

const append = (streamId: string, count: number) =>
  store.appendToStream(streamId, Array.from({ length: count }, (_, i) => ({ type: 'Numbered', data: { n: i + 1 } })));

/** A service of the likes with the admin part, the outbox, and API keys of an admin and a writer. */
async function startOutboxService(): Promise<string> {
  const { url } = await startService({
    store,
    ...service.composed,
    outboxes: [outbox],
    security: {
      apiKeys: [
        { name: 'ops', key: adminKey, roles: ['admin'] },
        { name: 'shop', key: writerKey, roles: ['writer'] },
      ],
    },
  });
  return url;
}

const statusQuery = `{
  outboxStatus {
    outbox consumer head
    destinations { destination publisher pending oldestPendingAgeMs parked held }
    partitions { partition owner position pending publishRate lastError }
  }
}`;
const listQuery = `query ($outbox: String!, $status: ParkedMessageStatusFilter, $key: String, $first: Int, $after: String) {
  parkedMessages(outbox: $outbox, status: $status, key: $key, first: $first, after: $after) {
    edges { cursor node { id outbox destination messageId key position eventId eventType status error attempts parkedAt resolvedAt event { type data streamId } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const release = (action: 'retry' | 'skip') => `mutation ($outbox: String!, $id: ID!) {
  ${action}ParkedMessage(outbox: $outbox, id: $id) { published failed { id error } message { id key status attempts error resolvedAt } }
}`;

interface Parked {
  id: string;
  key: string;
  position: string;
  status: string;
  error: string | null;
  attempts: number;
  resolvedAt: string | null;
  event: { type: string; data: { n: number }; streamId: string } | null;
}
interface Page {
  parkedMessages: { edges: { cursor: string; node: Parked }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

// Two keys parked at their first message, each with two held behind it; one key goes through.
await append('aob-bad', 3);
await append('aob-skip', 3);
await append('aob-good', 2);

describe('the outbox over the admin schema', () => {
  it('reports status, lists parked messages page by page, and retries and skips them', async () => {
    start(store, outbox);
    await eventually(async () => expect(await listParkedMessages(store, outbox)).toHaveLength(6));
    await eventually(async () => expect(publisher.received.filter((m) => m.key === 'aob-good')).toHaveLength(2));
    const url = await startOutboxService();

    const { outboxStatus } = await eventually(async () => {
      const answer = dataOf<{ outboxStatus: { destinations: { pending: number }[] }[] }>(await ask(url, statusQuery, {}, asAdmin));
      expect(answer.outboxStatus[0]!.destinations[0]!.pending).toBe(0);
      return answer;
    });
    expect(outboxStatus).toEqual([
      {
        outbox: 'admin-out',
        consumer: 'outbox:admin-out',
        head: expect.stringMatching(/^\d+$/),
        destinations: [{ destination: 'out', publisher: 'recording', pending: 0, oldestPendingAgeMs: null, parked: 2, held: 4 }],
        partitions: [0, 1].map((partition) => ({
          partition,
          owner: expect.any(String),
          position: expect.stringMatching(/^\d+$/),
          pending: 0,
          publishRate: expect.any(Number),
          lastError: null,
        })),
      },
    ]);

    // Every unresolved one, in log order, two a page, with their events.
    const seen: Parked[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: Page = dataOf<Page>(await ask(url, listQuery, { outbox: 'admin-out', first: 2, after }, asAdmin));
      seen.push(...page.parkedMessages.edges.map((edge) => edge.node));
      if (!page.parkedMessages.pageInfo.hasNextPage) break;
      after = page.parkedMessages.pageInfo.endCursor;
    }
    expect(seen.map((m) => [m.key, m.status, m.event?.data.n])).toEqual([
      ['aob-bad', 'PARKED', 1],
      ['aob-bad', 'HELD', 2],
      ['aob-bad', 'HELD', 3],
      ['aob-skip', 'PARKED', 1],
      ['aob-skip', 'HELD', 2],
      ['aob-skip', 'HELD', 3],
    ]);
    expect(seen[0]).toMatchObject({ error: expect.stringContaining('too large'), attempts: 1, resolvedAt: null, event: { type: 'Numbered', streamId: 'aob-bad' } });
    const parkedOnly = dataOf<Page>(await ask(url, listQuery, { outbox: 'admin-out', status: 'PARKED', key: 'aob-skip' }, asAdmin));
    expect(parkedOnly.parkedMessages.edges.map((edge) => edge.node.id)).toEqual([seen[3]!.id]);

    // A retry that fails again: the key stays held, the message parked with its new attempt.
    const failed = dataOf(await ask(url, release('retry'), { outbox: 'admin-out', id: seen[1]!.id }, asAdmin));
    expect(failed).toEqual({
      retryParkedMessage: { published: 0, failed: { id: seen[0]!.id, error: expect.stringContaining('too large') }, message: expect.objectContaining({ id: seen[1]!.id, status: 'HELD' }) },
    });

    poisoned.delete('aob-bad');
    const retried = dataOf(await ask(url, release('retry'), { outbox: 'admin-out', id: seen[0]!.id }, asAdmin));
    expect(retried).toEqual({
      retryParkedMessage: { published: 3, failed: null, message: { id: seen[0]!.id, key: 'aob-bad', status: 'PUBLISHED', attempts: 3, error: expect.stringContaining('too large'), resolvedAt: expect.any(String) } },
    });
    expect(publisher.received.filter((m) => m.key === 'aob-bad').map((m) => (m.payload as { n: number }).n)).toEqual([1, 2, 3]);

    // Skipping the parked one gives it up and sends the ones held behind it.
    const skipped = dataOf(await ask(url, release('skip'), { outbox: 'admin-out', id: seen[3]!.id }, asAdmin));
    expect(skipped).toEqual({ skipParkedMessage: { published: 2, failed: null, message: expect.objectContaining({ id: seen[3]!.id, status: 'SKIPPED' }) } });
    expect(publisher.received.filter((m) => m.key === 'aob-skip').map((m) => (m.payload as { n: number }).n)).toEqual([2, 3]);

    const left = dataOf<Page>(await ask(url, listQuery, { outbox: 'admin-out' }, asAdmin));
    expect(left.parkedMessages.edges).toEqual([]);
    const all = dataOf<Page>(await ask(url, listQuery, { outbox: 'admin-out', status: 'ALL' }, asAdmin));
    expect(all.parkedMessages.edges.map((edge) => edge.node.status)).toEqual(['PUBLISHED', 'PUBLISHED', 'PUBLISHED', 'SKIPPED', 'PUBLISHED', 'PUBLISHED']);

    // Resolved already: the library's refusal, naming the id.
    const again = await ask(url, release('skip'), { outbox: 'admin-out', id: seen[3]!.id }, asAdmin);
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field: 'id', reason: expect.stringContaining('already skipped') })] });
  });

  it('refuses bad input with BAD_USER_INPUT naming the argument', async () => {
    const url = await startOutboxService();
    const cases: [string, Record<string, unknown>, string][] = [
      [listQuery, { outbox: 'nope' }, 'outbox'],
      [listQuery, { outbox: 'admin-out', first: 0 }, 'first'],
      [listQuery, { outbox: 'admin-out', after: 'not-a-cursor' }, 'after'],
      [release('retry'), { outbox: 'nope', id: '1' }, 'outbox'],
      [release('skip'), { outbox: 'admin-out', id: 'forty-two' }, 'id'],
      [release('retry'), { outbox: 'admin-out', id: '999999999' }, 'id'],
    ];
    for (const [query, variables, field] of cases) {
      const answer = await ask(url, query, variables, asAdmin);
      expect(answer.errors?.[0]?.extensions, JSON.stringify(variables)).toMatchObject({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field })] });
    }
  });

  it('needs the admin role: a writer is FORBIDDEN, none is UNAUTHENTICATED, and nothing is done', async () => {
    const url = await startOutboxService();
    const fields = [
      ['outboxStatus', statusQuery],
      ['parkedMessages', listQuery],
      ['retryParkedMessage', release('retry')],
      ['skipParkedMessage', release('skip')],
    ] as const;
    const before = await listParkedMessages(store, outbox, { status: 'all' });
    for (const [field, query] of fields) {
      const variables = { outbox: 'admin-out', id: '1' };
      const asWriter = await ask(url, query, variables, { authorization: `Bearer ${writerKey}` });
      expect(asWriter.errors, field).toEqual([expect.objectContaining({ path: [field], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
      const anonymous = await ask(url, query, variables);
      // A mutation without a token is refused before any field runs (security's own check), a query at the field.
      expect(anonymous.errors, field).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    }
    expect(await listParkedMessages(store, outbox, { status: 'all' })).toEqual(before);
  });

  it('a service without outboxes reports none', async () => {
    const { url } = await startService({ store, ...service.composed, security: { apiKeys: [{ name: 'ops', key: adminKey, roles: ['admin'] }] } });
    expect(dataOf(await ask(url, '{ outboxStatus { outbox } }', {}, asAdmin))).toEqual({ outboxStatus: [] });
  });
});
