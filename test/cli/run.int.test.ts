import { connectionFromEnvironment, projectionStatus, type EventStore } from 'annals';
import { describe, expect, it } from 'vitest';
import { createTestStore, eventually, testDatabaseUrl } from '../setup/database.js';
import { counted, tallyProjection } from '../support/tally.js';
import { startAnnals, writeTestConfig } from './support/cli.js';

const store: EventStore = await createTestStore('cli_run');
const config = await writeTestConfig(store.schema, [{ name: 'tally', partitions: 3 }, { name: 'other' }]);
const tally = tallyProjection({ partitions: 3 });

const partitions = () =>
  store.withTransaction((tx) =>
    tx.query<{ projection: string; partition: number; owner: string | null }>(
      `SELECT consumer AS projection, partition, owner FROM "${store.schema}".consumer_partitions ORDER BY consumer, partition`,
    ),
  );

describe('annals projections run', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`processes events until ${signal}, then exits 0 and releases its leases`, { timeout: 120_000 }, async () => {
      // Given a worker running the tally projection only
      const worker = startAnnals(['projections', 'run', 'tally', '--poll-interval-ms', '50', '--worker-id', `cli-test-${signal}`, '--config', config]);
      await eventually(async () => expect(worker.output().stdout).toContain('projection runner started'), 60_000);

      // When events are appended, they are processed
      const { lastGlobalPosition } = await store.appendToStream(`tally-${signal}`, [counted(signal), counted(signal)]);
      await eventually(async () => {
        const status = await projectionStatus(store, [tally]);
        expect(status.partitions).toHaveLength(3);
        for (const partition of status.partitions) {
          expect(partition.owner).toBe(`cli-test-${signal}`);
          expect(partition.position).toBeGreaterThanOrEqual(lastGlobalPosition);
        }
      }, 30_000);

      // Then the signal stops it cleanly
      worker.kill(signal);
      const { code, stdout, stderr } = await worker.done;
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const logs = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; level: number; database?: string });
      // The first line says which database it runs on: a worker on the wrong one looks idle, not broken.
      expect(logs[0]).toMatchObject({
        msg: 'projection runner starting',
        database: `${connectionFromEnvironment({ DATABASE_URL: testDatabaseUrl }).description}, schema "${store.schema}"`,
      });
      expect(logs.map((log) => log.msg)).toEqual(expect.arrayContaining(['projection runner started', 'stopping: finishing the batches in flight', 'projection runner stopped; leases released']));
      expect(await partitions()).toEqual([0, 1, 2].map((partition) => ({ projection: 'tally', partition, owner: null })));
      const workers = await store.withTransaction((tx) => tx.query(`SELECT worker_id FROM "${store.schema}".consumer_workers`));
      expect(workers).toEqual([]);
    });
  }
});
