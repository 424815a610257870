import { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { defineProjection } from '../../src/index.js';
import { projectionSubscription } from '../../src/server/subscriptions/projection-subscription.js';
import { likeCountsGraphQL } from '../../projections/like-counts/like-counts.graphql.js';
import { eventually } from '../setup/database.js';
import { wsClient } from './support/ws-client.js';
import { subscribersOf, testbed, unique } from './support/testbed.js';

// A read model of big rows: a document's body, `size` characters, written by the
// projection (the events stay small). Each change pushes the whole body: a client that
// stops reading fills the socket's buffers within a few changes.
const documentEvents = { DocumentWritten: z.object({ docId: z.string(), size: z.number().int().positive() }) };

const documents = defineProjection({
  name: 'documents',
  version: 1,
  events: documentEvents,
  categories: ['doc'],
  schema: (db) => db.schema.createTable('documents').addColumn('doc_id', 'text', (c) => c.primaryKey()).addColumn('body', 'text', (c) => c.notNull()).execute(),
  apply: async (event, { db }) => {
    const body = sql<string>`repeat(${event.version % 10}::text, ${event.data.size}::integer)`;
    await db.insertInto('documents').values({ doc_id: event.data.docId, body }).onConflict((oc) => oc.column('doc_id').doUpdateSet({ body })).execute();
  },
});

interface DocumentTables {
  documents: { doc_id: string; body: string };
}

const documentSubscriptions = projectionSubscription({
  name: 'documents-subscriptions',
  typeDefs: `type DocumentUpdate { docId: ID! body: String! position: String! }
extend type Subscription { document(docId: ID!, after: String): DocumentUpdate! }`,
  field: 'document',
  projection: documents,
  args: z.object({ docId: z.string().min(1) }),
  key: (args) => args.docId,
  keyOf: (event) => event.data.docId,
  read: (db: Kysely<DocumentTables>, keys) => db.selectFrom('documents').selectAll().where('doc_id', 'in', [...keys]).execute(),
  rowKey: (row) => row.doc_id,
  payload: ({ key, row, position }) => ({ docId: key, body: row?.body ?? '', position }),
});

const bed = await testbed('sub_slow');

const query = 'subscription($d: ID!) { document(docId: $d) { docId position } }';
/** What the slow client asks for: the body too, half a megabyte a change. */
const bodyQuery = 'subscription($d: ID!) { document(docId: $d) { docId position body } }';

/** A bare graphql-transport-ws client that can stop reading its socket. */
async function rawSubscriber(url: string, docId: string) {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: { type: string; payload?: unknown }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as { type: string }));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await eventually(async () => expect(messages.some((m) => m.type === 'connection_ack')).toBe(true));
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: bodyQuery, variables: { d: docId } } }));
  await eventually(async () => expect(messages.some((m) => m.type === 'next')).toBe(true));
  // ws' pause() stops reading the TCP socket until resume(): the server's writes back up.
  return { messages, closed, stopReading: () => socket.pause(), readAgain: () => socket.resume() };
}

describe('a slow consumer', () => {
  it('is dropped, with the reason logged and in the close frame, when it leaves more updates unread than allowed; other clients carry on', async () => {
    await bed.runWorkers([documents]);
    const store = await bed.newStore();
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _encoding, done) => done(void warnings.push(String(chunk))) }));
    const { url } = await bed.startService({ store, logger, parts: [likeCountsGraphQL, documentSubscriptions], subscriptions: { maxQueuedMessages: 2 } });
    const docId = unique('d');
    const append = (size: number) => bed.store.appendToStream(`doc-${docId}`, [{ type: 'DocumentWritten', data: { docId, size } }]);
    await append(10);

    const reader = wsClient(url).subscribe<{ document: { position: string } }>(query, { d: docId });
    await reader.waitFor((values) => values.length > 0, 'the document now');
    const stalled = await rawSubscriber(url, docId);
    stalled.stopReading();
    expect(subscribersOf(store)).toBe(2);

    // Half a megabyte per change: the stalled client's socket buffers fill, then its queue.
    let changes = 0;
    while (subscribersOf(store) === 2) {
      expect(changes).toBeLessThan(200);
      const { lastGlobalPosition } = await append(500_000);
      changes++;
      // Every round that reached the reader offered the change to the stalled client too.
      await reader.waitFor((values) => BigInt(values.at(-1)!.document.position) >= lastGlobalPosition, `change ${changes}`);
    }
    const dropped = warnings.map((line) => JSON.parse(line) as { msg: string; reason: string; subscription: string }).find((line) => line.msg.includes('slow consumer'));
    expect(dropped).toEqual(expect.objectContaining({ subscription: 'document', reason: expect.stringMatching(/3 updates of document were waiting unread, more than the 2 allowed/) }));

    // Once it reads again, it finds why it was closed, and a code that tells it to come back later.
    stalled.readAgain();
    expect(await stalled.closed).toEqual({ code: 1013, reason: dropped!.reason });
    // The reader was not held back by it, and is still served.
    const { lastGlobalPosition } = await append(10);
    await reader.waitFor((values) => BigInt(values.at(-1)!.document.position) === lastGlobalPosition, 'the change after the drop');
    expect(reader.ended).toBe(false);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('annals_graphql_subscriptions_ended_total{field="document",reason="dropped"} 1');
    expect(metrics).toContain('annals_graphql_subscriptions{field="document"} 1');
  });
});
