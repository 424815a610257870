import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { partitionOfKey, type EventStore } from '../../src/index.js';
import { killAllScripts, startScript, type ScriptProcess } from '../setup/child-process.js';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { orderViolations } from './support/recording-publisher.js';

const store: EventStore = await createTestStore('outbox_crash');
afterEach(() => killAllScripts());

const script = fileURLToPath(new URL('./support/relay-script.ts', import.meta.url));

function startRelay(workerId: string, env: Record<string, string> = {}): ScriptProcess & { lines: { kind: string }[] } {
  const lines: { kind: string }[] = [];
  const started = startScript(script, { DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: store.schema, WORKER_ID: workerId, ...env }, (line) => {
    try {
      lines.push(JSON.parse(line) as { kind: string });
    } catch {
      // Not one of its lines (a warning of node's): ignored.
    }
  });
  return Object.assign(started, { lines });
}

interface Received {
  message_id: string;
  key: string;
  position: string;
  worker: string;
}

async function received(): Promise<Received[]> {
  return store.withTransaction((tx) => tx.query<Received>(`SELECT message_id, key, position::text, worker FROM "${tx.schema}".received ORDER BY seq`));
}

async function checkpoints(): Promise<bigint[]> {
  const rows = await store.withTransaction((tx) =>
    tx.query<{ position: string }>(`SELECT position::text FROM "${tx.schema}".consumer_partitions WHERE consumer = 'outbox:crash' ORDER BY partition`),
  );
  return rows.map((row) => BigInt(row.position));
}

describe('a relay killed with SIGKILL in the middle of a batch', () => {
  // Catches: a checkpoint moved before the batch's messages were acknowledged (the kill
  // would lose them), a restart that starts anywhere but the committed checkpoint (lost
  // or needlessly repeated messages), order per key broken by the redelivery.
  it('loses nothing: the next relay publishes again from the checkpoint, each key in order', async () => {
    await store.withTransaction((tx) =>
      tx.query(`CREATE TABLE "${tx.schema}".received (seq bigserial PRIMARY KEY, message_id text NOT NULL, key text NOT NULL, position bigint NOT NULL, worker text NOT NULL)`),
    );
    const keys = Array.from({ length: 8 }, (_, i) => `crash-${i}`);
    for (let round = 0; round < 15; round++) {
      await Promise.all(keys.map((key) => store.appendToStream(key, [{ type: 'Numbered', data: { n: round } }])));
    }

    const killed = startRelay('killed', { HOLD_AFTER: '45' });
    await killed.waitUntil(() => killed.lines.some((line) => line.kind === 'holding'), 30_000, (why) => `the relay ${why}: ${killed.stderr()}`);
    killed.child.kill('SIGKILL');
    expect(await killed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const atKill = await checkpoints();
    // Cut short: at most the 45 it let through arrived.
    expect((await received()).length).toBeLessThanOrEqual(45);

    const next = startRelay('next');
    await eventually(async () => expect(new Set((await received()).map((row) => row.message_id)).size).toBe(120), 30_000);
    const rows = await received();

    for (const key of keys) {
      const expected = (await store.readStream(key)).map((event) => event.globalPosition);
      const got = rows.filter((row) => row.key === key).map((row) => BigInt(row.position));
      expect(orderViolations(got, expected), key).toEqual([]);
    }
    // The next relay started each partition right after its checkpoint, not before.
    for (const [partition, checkpoint] of atKill.entries()) {
      const ours = rows.filter((row) => row.worker === 'next' && partitionOfKey(row.key, 2) === partition).map((row) => BigInt(row.position));
      const first = ours.reduce((a, b) => (a < b ? a : b));
      const firstAfter = (await store.readAll({ after: checkpoint, categories: ['crash'] })).find((event) => partitionOfKey(event.streamId, 2) === partition);
      expect(first, `partition ${partition}`).toBe(firstAfter!.globalPosition);
    }
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  });
});
