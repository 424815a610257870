import { join, resolve } from 'node:path';
import type { EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { startServiceProcess } from '../demo/support/service-process.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { writeOutboxConfig } from './support/outbox-config.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

const root = resolve(import.meta.dirname, '../..');
const store: EventStore = await createTestStore('cli_outbox_start');

const { url: webhookUrl, received } = await startWebhookReceiver();

// A service of one query field, and an outbox of category `cost` to the receiver.
const { config } = await writeOutboxConfig('cli-outbox-start', [
  `import { graphqlPart } from ${JSON.stringify(join(root, 'src', 'server', 'index.ts'))};`,
  `export default {`,
  `  schema: ${JSON.stringify(store.schema)},`,
  `  projections: [],`,
  `  outboxes: [defineOutbox({ name: 'started', destinations: { hook: { publisher: webhookPublisher({ url: process.env.ANNALS_TEST_WEBHOOK_URL!, secret: 'test-secret' }) } }, routes: [{ destination: 'hook', categories: ['cost'], schema: z.object({ n: z.number() }) }] })],`,
  `  service: { parts: [graphqlPart({ name: 'hello', typeDefs: 'extend type Query { hello: String }', resolvers: { Query: { hello: () => 'hi' } } })] },`,
  `};`,
]);
const env = { DATABASE_URL: testDatabaseUrl, LOG_LEVEL: 'info', ANNALS_TEST_WEBHOOK_URL: webhookUrl };

/** The `workers` of the service's `annals service listening` log line. */
const workersOf = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string; workers?: string[] })
    .find((log) => log.msg === 'annals service listening')?.workers;

describe('the outbox relay in the service process', () => {
  it('annals start runs the relay beside the API, ready once it leases, and stops it on SIGTERM with exit 0', { timeout: 120_000 }, async () => {
    await store.appendToStream('cost-1', [{ type: 'Numbered', data: { n: 1 } }]);
    const service = await startServiceProcess(['start', '--poll-interval-ms', '50', '--config', config], env);
    try {
      await eventually(async () => expect(workersOf(service.stdout())).toEqual(['outbox:started']));
      await eventually(async () => {
        const ready = await fetch(`${service.url}/readyz`).then((response) => response.json());
        expect(ready).toMatchObject({ status: 'ready', checks: [{ name: 'event-store', status: 'ok' }, { name: 'projection-workers', status: 'ok' }] });
      }, 30_000);
      await store.appendToStream('cost-1', [{ type: 'Numbered', data: { n: 2 } }]);
      await eventually(async () => expect(received.filter((m) => m.key === 'cost-1').map((m) => m.data.n)).toEqual([1, 2]), 30_000);
    } finally {
      expect(await service.stop()).toBe(0);
    }
    const owners = await store.withTransaction((tx) => tx.query<{ owner: string | null }>(`SELECT owner FROM "${tx.schema}".consumer_partitions WHERE consumer = 'outbox:started'`));
    expect(owners).toHaveLength(4);
    expect(owners.every((row) => row.owner === null)).toBe(true);
  });

  it('annals serve (the API alone) runs no relay', { timeout: 120_000 }, async () => {
    const service = await startServiceProcess(['serve', '--config', config], env);
    try {
      await eventually(async () => expect(workersOf(service.stdout())).toEqual([]));
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });
});
