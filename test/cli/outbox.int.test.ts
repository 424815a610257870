import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connectionFromEnvironment, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineOutbox, webhookPublisher } from '../../src/outbox/index.js';
import { statusCommand } from '../../src/cli/status-command.js';
import { closedPort } from '../database/support/unreachable.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { runAnnals, startAnnals } from './support/cli.js';
import { writeOutboxConfig } from './support/outbox-config.js';
import { startWebhookReceiver } from './support/webhook-receiver.js';

const root = resolve(import.meta.dirname, '../..');
const store: EventStore = await createTestStore('cli_outbox');
const database = `${connectionFromEnvironment({ DATABASE_URL: testDatabaseUrl }).description}, schema "${store.schema}"`;

/** A webhook receiver: keeps what it accepted; answers 400 (not retryable: parked at once) for the keys in `refused`. */
const { url: webhookUrl, received, refused } = await startWebhookReceiver();
const env = { ANNALS_TEST_WEBHOOK_URL: webhookUrl };

/** Two outboxes to the receiver: `flow` (category cobf), `refusing` (category cobr). */
const outboxSource = (name: string, category: string, url: string) =>
  `defineOutbox({ name: ${JSON.stringify(name)}, partitions: 2, destinations: { hook: { publisher: webhookPublisher({ url: ${url}, secret: 'test-secret' }) } }, routes: [{ destination: 'hook', categories: [${JSON.stringify(category)}], schema: z.object({ n: z.number() }) }] })`;
const { dir, config } = await writeOutboxConfig('cli-outbox', [
  `const url = process.env.ANNALS_TEST_WEBHOOK_URL ?? 'http://127.0.0.1:9/';`,
  `export default {`,
  `  schema: ${JSON.stringify(store.schema)},`,
  `  projections: [],`,
  `  outboxes: [${outboxSource('flow', 'cobf', 'url')}, ${outboxSource('refusing', 'cobr', 'url')}],`,
  `};`,
]);
const bare = join(dir, 'no-outboxes.config.ts');
await writeFile(bare, `export default { schema: ${JSON.stringify(store.schema)}, projections: [] };\n`);

const numbered = (n: number) => ({ type: 'Numbered', data: { n } });
const relayOwners = (outbox: string) =>
  store.withTransaction((tx) => tx.query<{ owner: string | null }>(`SELECT owner FROM "${tx.schema}".consumer_partitions WHERE consumer = $1 ORDER BY partition`, [`outbox:${outbox}`]));

/** Runs `annals outbox relay NAME` until everything expected arrived, then stops it with SIGTERM. */
async function relayUntil(name: string, arrived: () => Promise<void>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const relay = startAnnals(['outbox', 'relay', name, '--poll-interval-ms', '50', '--config', config], env);
  try {
    await eventually(async () => expect(relay.output().stdout).toContain('outbox relay started'), 60_000);
    await eventually(arrived, 30_000);
  } finally {
    relay.kill('SIGTERM');
  }
  return relay.done;
}

describe('annals outbox', () => {
  it('relay publishes the outbox, then stops on SIGTERM with exit 0 and its leases released', { timeout: 120_000 }, async () => {
    await store.appendToStream('cobf-1', [numbered(1), numbered(2)]);
    await store.appendToStream('cobf-2', [numbered(1)]);

    const { code, stdout, stderr } = await relayUntil('flow', async () => expect(received.filter((m) => m.key.startsWith('cobf-'))).toHaveLength(3));

    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(received.filter((m) => m.key === 'cobf-1').map((m) => m.data.n)).toEqual([1, 2]);
    const logs = stdout.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; database?: string });
    expect(logs[0]).toMatchObject({ msg: 'outbox relay starting', database });
    expect(logs.map((log) => log.msg)).toEqual(expect.arrayContaining(['outbox relay started', 'stopping: finishing the batches in flight', 'outbox relay stopped; leases released']));
    expect(await relayOwners('flow')).toEqual([{ owner: null }, { owner: null }]);
  });

  it('status shows pending messages per destination and partition, as a table and as JSON', { timeout: 60_000 }, async () => {
    await store.appendToStream('cobf-3', [numbered(1), numbered(2)]);

    const json = await eventually(async () => {
      const result = await runAnnals(['outbox', 'status', 'flow', '--json', '--config', config], env);
      expect(result.code).toBe(0);
      const [flow] = JSON.parse(result.stdout) as { outbox: string; destinations: { pending: number }[]; partitions: { position: string; pending: number }[] }[];
      expect(flow!.destinations[0]!.pending).toBe(2);
      return result;
    }, 30_000);
    expect(json.stderr).toBe(`annals: database: ${database}\n`);
    const [flow] = JSON.parse(json.stdout);
    expect(flow).toMatchObject({ outbox: 'flow', consumer: 'outbox:flow', destinations: [{ destination: 'hook', publisher: 'webhook', pending: 2, parked: 0, held: 0 }] });
    expect(flow.head).toMatch(/^\d+$/);
    expect(flow.partitions).toHaveLength(2);
    expect(flow.partitions[0].position).toMatch(/^\d+$/);

    const { code, stdout } = await runAnnals(['outbox', 'status', '--config', config], env);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe(`database: ${database}`);
    expect(lines[1]).toMatch(/^head: \d+$/);
    expect(lines[3]).toMatch(/^outbox\s+destination\s+publisher\s+pending\s+oldest\s+parked\s+held$/);
    expect(lines[4]).toMatch(/^flow\s+hook\s+webhook\s+2\s+\S+\s+0\s+0$/);
    expect(lines[5]).toMatch(/^refusing\s+hook\s+webhook\s+\d+\s+/);
    expect(stdout).toMatch(/^outbox\s+part\s+state\s+checkpoint\s+pending\s+msgs\/s\s+owner$/m);
  });

  it('parked list, retry and skip: a refused message holds its key until a retry publishes the key in order', { timeout: 120_000 }, async () => {
    refused.add('cobr-bad');
    refused.add('cobr-worse');
    await store.appendToStream('cobr-bad', [numbered(1), numbered(2)]);
    await store.appendToStream('cobr-worse', [numbered(1)]);
    await store.appendToStream('cobr-good', [numbered(1)]);
    const parked = async () => {
      const { stdout } = await runAnnals(['outbox', 'parked', 'list', '--json', '--config', config], env);
      return JSON.parse(stdout) as { id: string; key: string; status: string; destination: string; error: string | null; globalPosition: string }[];
    };
    const stopped = await relayUntil('refusing', async () => {
      expect(received.filter((m) => m.key === 'cobr-good')).toHaveLength(1);
      expect((await parked()).map((m) => `${m.key}:${m.status}`).sort()).toEqual(['cobr-bad:held', 'cobr-bad:parked', 'cobr-worse:parked']);
    });
    expect(stopped.code).toBe(0);

    const list = await parked();
    const bad = list.find((m) => m.key === 'cobr-bad' && m.status === 'parked')!;
    const worse = list.find((m) => m.key === 'cobr-worse')!;
    expect(bad).toMatchObject({ destination: 'hook' });
    expect(bad.error).toContain('400');
    const table = await runAnnals(['outbox', 'parked', '--key', 'cobr-bad', '--config', config], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^id\s+outbox\s+destination\s+key\s+position\s+event\s+status\s+attempts\s+error$/m);
    expect(table.stdout.trim().split('\n')).toHaveLength(3);

    // Still refused: the retry fails again, exit 1, the key stays held.
    const again = await runAnnals(['outbox', 'parked', 'retry', bad.id, '--config', config], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(new RegExp(`^retried parked message ${bad.id} of refusing: 0 message\\(s\\) published, then message ${bad.id} failed again and is parked: .*400.*; its key stays held\n$`));
    expect((await parked()).filter((m) => m.key === 'cobr-bad')).toHaveLength(2);

    refused.delete('cobr-bad');
    const retried = await runAnnals(['outbox', 'parked', 'retry', bad.id, '--config', config], env);
    expect(retried).toMatchObject({ code: 0, stderr: '', stdout: `retried parked message ${bad.id} of refusing: 2 message(s) published\n` });
    expect(received.filter((m) => m.key === 'cobr-bad').map((m) => m.data.n)).toEqual([1, 2]);

    const skipped = await runAnnals(['outbox', 'parked', 'skip', worse.id, '--config', config], env);
    expect(skipped).toMatchObject({ code: 0, stdout: `skipped parked message ${worse.id} of refusing: 0 message(s) published\n` });
    expect(await parked()).toEqual([]);
    const resolved = await runAnnals(['outbox', 'parked', 'list', '--status', 'skipped', '--json', '--config', config], env);
    expect(JSON.parse(resolved.stdout)).toEqual([expect.objectContaining({ id: worse.id, status: 'skipped' })]);
  });

  it('statusCommand (annals status) lists the outboxes after the projections, as a table and as JSON', async () => {
    const url = env.ANNALS_TEST_WEBHOOK_URL;
    const flow = defineOutbox({
      name: 'flow',
      partitions: 2,
      destinations: { hook: { publisher: webhookPublisher({ url, secret: 'test-secret' }) } },
      routes: [{ destination: 'hook', categories: ['cobf'], schema: z.object({ n: z.number() }) }],
    });
    const text = await statusCommand(store, [], { json: false, outboxes: [flow] });
    expect(text).toMatch(/^flow\s+hook\s+webhook\s+\d+/m);
    expect(text).toMatch(/^flow\s+0\s+\S/m);
    const json = JSON.parse(await statusCommand(store, [], { json: true, outboxes: [flow] }));
    expect(json.outboxes).toEqual([expect.objectContaining({ outbox: 'flow', consumer: 'outbox:flow' })]);
    expect(json.partitions).toEqual([]);
  });

  it('refuses bad input with a clear message and exit code 2', { timeout: 60_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['outbox', 'relay', 'nope'], /^annals: no outbox named 'nope' \(known: flow, refusing\)\n$/],
      [['outbox', 'status', 'nope'], /^annals: no outbox named 'nope'/],
      [['outbox', 'parked', 'retry', '999999999'], /^annals: no parked message 999999999 in the configured outboxes; see annals outbox parked list\n$/],
      [['outbox', 'parked', 'skip', 'abc'], /^annals: ID must be the digits of a parked message id, got 'abc'\n$/],
      [['outbox', 'parked', 'list', '--status', 'lost'], /^annals: --status must be one of unresolved, parked, held, published, skipped, all, got 'lost'\n$/],
      [['outbox', 'parked', 'list', '--destination', 'nowhere'], /^annals: no destination named 'nowhere' \(known: hook\)\n$/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runAnnals([...args, '--config', config], env);
      expect({ args, code, stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
    }
    // The repository's config names a NATS publisher: it loads with NATS unreachable (the publisher connects on its first publish).
    const example = await runAnnals(['outbox', 'relay', 'nope', '--config', join(root, 'annals.config.ts')], { NATS_URL: `nats://127.0.0.1:${await closedPort()}` });
    expect(example).toMatchObject({ code: 2, stderr: "annals: no outbox named 'nope' (known: likes)\n" });
    const none = await runAnnals(['outbox', 'status', '--config', bare]);
    expect(none).toMatchObject({ code: 2, stderr: 'annals: the config lists no outboxes (add outboxes: [...] to its default export, docs/outbox.md)\n' });
  });
});
