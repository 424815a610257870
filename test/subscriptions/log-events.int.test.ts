import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/index.js';
import { wsClient, type Pushes } from './support/ws-client.js';
import { postLikesSubscription, subscribersOf, testbed, unique, type PostLikes } from './support/testbed.js';
import { eventually } from '../setup/database.js';

const bed = await testbed('sub_log');

const adminKey = 'admin-key-0123456789abcdef';
const writerKey = 'writer-key-0123456789abcdef';
const security = {
  apiKeys: [
    { name: 'ops', key: adminKey, roles: ['admin'] },
    { name: 'app', key: writerKey, roles: ['writer'] },
  ],
};

interface LogEvent {
  position: string;
  streamId: string;
  version: number;
  type: string;
  data: unknown;
}

const streamEvents = 'subscription($s: ID!, $a: String) { streamEvents(streamId: $s, after: $a) { position streamId version type data } }';
const categoryEvents = 'subscription($c: String!, $a: String) { categoryEvents(category: $c, after: $a) { position streamId version type data } }';

const noted = (n: number): NewEvent => ({ type: 'Noted', data: { n } });

async function append(streamId: string, count: number, from = 0): Promise<bigint[]> {
  const positions: bigint[] = [];
  for (let n = from; n < from + count; n++) positions.push((await bed.store.appendToStream(streamId, [noted(n)])).lastGlobalPosition);
  return positions;
}

const positionsOf = (pushes: Pushes<Record<string, LogEvent>>, field: string) => pushes.values.map((value) => BigInt(value[field]!.position));

describe('the log over websockets (admin)', () => {
  it('refuses the log without a token, or with a token without the admin role, and every subscription of a connection whose token it does not accept', async () => {
    const { url } = await bed.startService({ security });
    const anonymous = wsClient(url).subscribe(streamEvents, { s: 'audit-1' });
    const writer = wsClient(url, { authorization: `Bearer ${writerKey}` }).subscribe(categoryEvents, { c: 'audit' });
    const forged = wsClient(url, { authorization: 'Bearer not-a-key-of-this-service' });
    const forgedLog = forged.subscribe(streamEvents, { s: 'audit-1' });
    // A token refused is refused for every subscription of the connection, public ones too.
    const forgedPublic = forged.subscribe<PostLikes>(postLikesSubscription, { p: 'p1' });
    await Promise.all([anonymous, writer, forgedLog, forgedPublic].map((pushes) => pushes.waitForEnd()));
    expect(anonymous.errors).toEqual([expect.objectContaining({ path: ['streamEvents'], extensions: { code: 'UNAUTHENTICATED' } })]);
    expect(writer.errors).toEqual([expect.objectContaining({ path: ['categoryEvents'], extensions: { code: 'FORBIDDEN' } })]);
    expect(writer.errors[0]!.message).toMatch(/'app' lacks the 'admin' role/);
    expect(forgedLog.errors[0]!.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(forgedPublic.errors[0]!.extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(forgedPublic.errors[0]!.message).toMatch(/not accepted/);
  });

  it("pushes a stream's events as they are appended, and from a position: every one after it, then live, none twice", async () => {
    const store = await bed.newStore();
    const { url } = await bed.startService({ store, security });
    const admin = wsClient(url, { authorization: `Bearer ${adminKey}` });
    const stream = `audit-${randomUUID()}`;
    const live = admin.subscribe<Record<string, LogEvent>>(streamEvents, { s: stream });
    // Live from when it started: append once it has.
    await eventually(async () => expect(subscribersOf(store)).toBe(1));
    const positions = await append(stream, 4);
    await append(`audit-${randomUUID()}`, 2); // another stream of the category: not this one's
    await live.waitFor((values) => values.length === 4, 'the 4 events');
    expect(positionsOf(live, 'streamEvents')).toEqual(positions);
    expect(live.values.map((value) => [value.streamEvents!.streamId, value.streamEvents!.version, value.streamEvents!.type, value.streamEvents!.data])).toEqual(
      [0, 1, 2, 3].map((n) => [stream, n + 1, 'Noted', { n }]),
    );

    const resumed = admin.subscribe<Record<string, LogEvent>>(streamEvents, { s: stream, a: positions[1]!.toString() });
    await resumed.waitFor((values) => values.length === 2, 'the 2 events after the position');
    positions.push(...(await append(stream, 1, 4)));
    await resumed.waitFor((values) => values.length === 3, 'the live one');
    expect(positionsOf(resumed, 'streamEvents')).toEqual(positions.slice(2));
  });

  it('catches a category up from a position while writers append to it, then goes on live: every event once, in order', async () => {
    const { url } = await bed.startService({ security });
    const category = `cat${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const [start] = await append(`${category}-0`, 1);
    // More than a page of history after the position…
    const history = (await Promise.all([1, 2, 3].map((s) => append(`${category}-${s}`, 90)))).flat();
    const subscription = wsClient(url, { authorization: `Bearer ${adminKey}` }).subscribe<Record<string, LogEvent>>(categoryEvents, {
      c: category,
      a: start!.toString(),
    });
    // …and writers appending while it catches up.
    const during = (await Promise.all([4, 5, 6, 7].map((s) => append(`${category}-${s}`, 40)))).flat();
    const expected = [...history, ...during].sort((a, b) => (a < b ? -1 : 1));
    await subscription.waitFor((values) => values.length >= expected.length, `${expected.length} events`);
    expect(positionsOf(subscription, 'categoryEvents')).toEqual(expected);
    expect(subscription.values.every((value) => value.categoryEvents!.streamId.startsWith(`${category}-`))).toBe(true);
  });

  it('refuses a stream id or a category that is not one, naming the argument', async () => {
    const { url } = await bed.startService({ security });
    const admin = wsClient(url, { authorization: `Bearer ${adminKey}` });
    const notCategory = admin.subscribe(categoryEvents, { c: 'post-1' });
    const emptyStream = admin.subscribe(streamEvents, { s: '' });
    const badAfter = admin.subscribe(streamEvents, { s: unique('audit'), a: '1e9' });
    await Promise.all([notCategory, emptyStream, badAfter].map((pushes) => pushes.waitForEnd()));
    expect(notCategory.errors[0]!.extensions).toEqual(expect.objectContaining({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field: 'category' })] }));
    expect(notCategory.errors[0]!.message).toMatch(/must be a category/);
    expect(emptyStream.errors[0]!.extensions).toEqual(expect.objectContaining({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field: 'streamId' })] }));
    expect(badAfter.errors[0]!.extensions).toEqual(expect.objectContaining({ code: 'BAD_USER_INPUT', issues: [expect.objectContaining({ field: 'after' })] }));
  });
});

