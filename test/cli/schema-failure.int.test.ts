import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { projectionStatus, type EventStore } from 'annals';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestStore } from '../setup/database.js';
import { runAnnals } from './support/cli.js';

// A projection whose schema() throws, in a config of its own: the commands that create a
// generation (rebuild, run) say whose code failed, in one line (issue 13).

const store: EventStore = await createTestStore('cli_schema_failure');
const root = resolve(import.meta.dirname, '../..');
const folder = join(root, 'test', '.tmp', `cli-schema-failure-${randomBytes(3).toString('hex')}`);
await mkdir(folder, { recursive: true });
afterAll(() => rm(folder, { recursive: true, force: true }));
const config = join(folder, 'annals.config.ts');
await writeFile(
  config,
  [
    `import { z } from 'zod';`,
    `import { defineProjection } from ${JSON.stringify(join(root, 'src', 'index.ts'))};`,
    `export default {`,
    `  schema: ${JSON.stringify(store.schema)},`,
    `  projections: [`,
    `    defineProjection({`,
    `      name: 'broken',`,
    `      version: 2,`,
    `      events: { Counted: z.object({ key: z.string() }) },`,
    `      schema: async () => { throw new Error('no tables today'); },`,
    `      apply: async () => {},`,
    `    }),`,
    `  ],`,
    `};`,
    ``,
  ].join('\n'),
);

const message = "projection 'broken' v2: schema() failed: no tables today";

describe('a projection whose schema() fails, on the command line', () => {
  it('annals projections rebuild says so in one line and exits 1', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runAnnals(['projections', 'rebuild', 'broken', '--config', config]);

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`annals: ${message}\n`);
    expect((await projectionStatus(store, [])).partitions).toEqual([]);
  });

  it('annals projections rebuild --json ends stdout with a result object saying it failed', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runAnnals(['projections', 'rebuild', 'broken', '--json', '--config', config]);

    expect(code).toBe(1);
    expect(stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { event: 'result', projection: 'broken', outcome: 'failed', error: message },
    ]);
    expect(stderr).toBe(`annals: ${message}\n`);
  });

  it('annals projections run does not start: one line on stderr, exit 1', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runAnnals(['projections', 'run', '--config', config]);

    expect(code).toBe(1);
    expect(stderr).toBe(`annals: ${message}\n`);
    // The runner's JSON log says it too, with the error's fields (pino adds the cause's message to err.message)
    const failed = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg?: string; err?: Record<string, unknown> })
      .find((entry) => entry.msg === 'projection runner failed to start');
    expect(failed?.err).toMatchObject({ type: 'ProjectionSchemaError', code: 'ANNALS_PROJECTION_SCHEMA', projection: 'broken', version: 2, generation: 1 });
    expect(String(failed?.err?.message).startsWith(message)).toBe(true);
  });
});
