import { catchUpConsumers, ConsumerStoppedError, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { counted } from '../support/tally.js';
import { appendVisible } from './support/append-visible.js';
import { runAnnals, writeConsumerTestConfig, writeTestConfig } from './support/cli.js';
import { createConsumerTallies, readConsumerTallies, tallyConsumer } from './support/tally-consumer.js';

const store: EventStore = await createTestStore('cli_consumers');
const consumers = [
  { name: 'rows', category: 'rows' },
  { name: 'mails', category: 'mails', mode: 'at-least-once' as const },
  { name: 'stops', category: 'stops' },
];
const config = await writeConsumerTestConfig(store.schema, consumers);
const projectionsOnly = await writeTestConfig(store.schema);
await createConsumerTallies(store);
const quickly = { retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 } };

const annals = async (args: string[], env: Record<string, string> = {}) => {
  const result = await runAnnals([...args, '--config', config], env);
  return { ...result, json: () => JSON.parse(result.stdout) as Record<string, unknown>[] };
};

describe('annals consumers', () => {
  it('lists, retries and skips the dead letters of the configured consumers', { timeout: 180_000 }, async () => {
    // Given events the handlers refuse, dead-lettered by workers with the faulty code
    await appendVisible(store, 'rows-1', [counted('good'), counted('bad'), counted('bad')]);
    await appendVisible(store, 'mails-1', [counted('bad')]);
    await catchUpConsumers(store, [tallyConsumer({ ...consumers[0]!, failOn: 'bad' }), tallyConsumer({ ...consumers[1]!, failOn: 'bad' })], quickly);

    // When they are listed: both consumers', oldest first (in the order they were dead-lettered)
    const listed = await annals(['consumers', 'dead-letters', '--json']);
    expect(listed.stderr).toBe('');
    const pending = listed.json();
    const ids = pending.map((letter) => BigInt(String(letter.id)));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    const idOf = (consumer: string, version: number) => {
      const letter = pending.find((l) => l.consumer === consumer && l.streamVersion === version);
      expect(letter, `${consumer} v${version}`).toMatchObject({ streamId: `${consumer}-1`, status: 'pending' });
      return String(letter!.id);
    };
    expect(pending).toHaveLength(3);
    const [first, second, mail] = [idOf('rows', 2), idOf('rows', 3), idOf('mails', 1)];
    const table = await annals(['consumers', 'dead-letters', 'list', '--consumer', 'rows']);
    expect(table.stdout.split('\n')[0]).toMatch(/^\s*id\s+consumer\s+part\s+position\s+stream\s+version\s+type\s+attempts\s+status\s+failed at\s+error$/);
    expect(table.stdout.trim().split('\n')).toHaveLength(3);
    expect(table.stdout).toContain('Error: refusing key bad');

    // A retry whose handler fails again: exit 1 with the handler's error, still pending
    const failed = await annals(['consumers', 'dead-letters', 'retry', first!], { ANNALS_TEST_FAIL_KEY: 'bad' });
    expect([failed.code, failed.stderr]).toEqual([1, 'annals: refusing key bad\n']);

    // Then with the fixed code (the config's handlers fail on nothing): retried, in both modes, and skipped
    const retried = await annals(['consumers', 'dead-letters', 'retry', first!]);
    expect([retried.code, retried.stderr]).toEqual([0, '']);
    expect(retried.stdout).toMatch(new RegExp(`^retried dead letter ${first}: Counted at position \\d+ \\(stream 'rows-1' v2\\) for rows is handled now`));
    expect((await annals(['consumers', 'dead-letters', 'retry', mail!])).code).toBe(0);
    const skipped = await annals(['consumers', 'dead-letters', 'skip', second!]);
    expect([skipped.code, skipped.stdout]).toEqual([0, expect.stringContaining(`skipped dead letter ${second}:`)]);
    expect(await readConsumerTallies(store, 'rows')).toEqual({ good: 1, bad: 1 });
    expect(await readConsumerTallies(store, 'mails')).toEqual({ bad: 1 });
    const all = (await annals(['consumers', 'dead-letters', '--status', 'all', '--json'])).json();
    expect(Object.fromEntries(all.map((letter) => [letter.id, letter.status]))).toEqual({ [first]: 'retried', [second]: 'skipped', [mail]: 'retried' });

    // A resolved, unknown or malformed id, or an unknown consumer, is bad input: exit 2, one line
    const again = await annals(['consumers', 'dead-letters', 'skip', first!]);
    expect([again.code, again.stderr]).toEqual([2, `annals: dead letter ${first}: it is already retried\n`]);
    const unknown = await annals(['consumers', 'dead-letters', 'retry', '999999']);
    expect([unknown.code, unknown.stderr]).toEqual([2, 'annals: dead letter 999999: no such dead letter\n']);
    const malformed = await annals(['consumers', 'dead-letters', 'retry', 'first']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^annals: ID must be a dead letter id .*got 'first'\n$/);
    const named = await annals(['consumers', 'dead-letters', '--consumer', 'row']);
    expect([named.code, named.stderr]).toEqual([2, "annals: no consumer named 'row' (known: rows, mails, stops)\n"]);
  });

  it('shows a stopped partition in status, and resumes it', { timeout: 180_000 }, async () => {
    await appendVisible(store, 'stops-1', [counted('a'), counted('bad'), counted('b')]);
    const stopping = catchUpConsumers(store, [tallyConsumer({ ...consumers[2]!, failOn: 'bad' })], { ...quickly, onFailure: 'stop' });
    await expect(stopping).rejects.toBeInstanceOf(ConsumerStoppedError);

    const status = await annals(['consumers', 'status', 'stops']);
    expect([status.code, status.stderr]).toEqual([0, '']);
    expect(status.stdout).toMatch(/^stops\s+0\s+stopped\s+\d+\s+2\s/m);
    expect(status.stdout).toContain('stops partition 0 stopped: Error: refusing key bad; fix the handler, then annals consumers resume stops');
    const json = JSON.parse((await annals(['consumers', 'status', '--json'])).stdout);
    expect(json.partitions.find((p: { consumer: string }) => p.consumer === 'stops')).toMatchObject({ partition: 0, stoppedError: 'Error: refusing key bad' });
    expect(json.pendingDeadLetters).toMatchObject({ stops: 0 });

    const resumed = await annals(['consumers', 'resume', 'stops']);
    expect([resumed.code, resumed.stdout]).toEqual([0, 'resumed 1 stopped partition(s) of stops; running workers claim them on their next round\n']);
    await catchUpConsumers(store, [tallyConsumer(consumers[2]!)], quickly);
    expect(await readConsumerTallies(store, 'stops')).toEqual({ a: 1, bad: 1, b: 1 });
    expect((await annals(['consumers', 'resume', 'stops'])).stdout).toBe('stops has no stopped partitions\n');
  });

  it('needs consumers in the config', async () => {
    const result = await runAnnals(['consumers', 'status', '--config', projectionsOnly]);
    expect([result.code, result.stderr]).toEqual([2, 'annals: the config lists no consumers (add consumers: [...] to its default export)\n']);
  });
});
