import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionFromEnvironment } from '../../src/index.js';
import { closedPort, missingName, testDatabase, testUser, urlWith } from '../database/support/unreachable.js';
import { createTestStore, testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { runAnnals, writeConsumerTestConfig, writeTestConfig, type CliResult } from './support/cli.js';

// Issue 13, as a new user meets it on the command line: which database `annals` runs on,
// and one line, no stack trace, when that database is the wrong one.

const store = await createTestStore('cli_database');
const config = await writeTestConfig(store.schema);
const consumerConfig = await writeConsumerTestConfig(store.schema, [{ name: 'rows', category: 'rows' }]);
const { schema: unmigrated } = useTestSchema('cli_unmigrated');
const unmigratedConfig = await writeTestConfig(unmigrated);
const postgres = `${connectionFromEnvironment({ DATABASE_URL: testDatabaseUrl }).description}, schema "${store.schema}"`;

/** A failure: exit `code`, exactly one line on stderr matching `line`, no stack trace. */
function expectOneLine(result: CliResult, code: number, line: RegExp): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code, stderr: expect.stringMatching(line) });
  expect(result.stderr.endsWith('\n') && result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe('annals, given a DATABASE_URL that is not a Postgres URL', () => {
  it('exits 2 naming DATABASE_URL and why, never repeating the password', { timeout: 120_000 }, async () => {
    const [mysql, garbage, production] = await Promise.all([
      runAnnals(['status', '--config', config], { DATABASE_URL: 'mysql://ada:hunter2@db.example:3306/app' }),
      runAnnals(['status', '--config', config], { DATABASE_URL: 'hunter2' }),
      runAnnals(['status', '--config', config], { DATABASE_URL: '', ANNALS_DATA_DIR: '', NODE_ENV: 'production' }),
    ]);
    expectOneLine(mysql, 2, /^annals: DATABASE_URL: must be a PostgreSQL URL, starting postgres:\/\/ or postgresql:\/\/ \(its scheme is 'mysql'\); for example /);
    expectOneLine(garbage, 2, /^annals: DATABASE_URL: is not a URL; expected one like postgres:\/\//);
    expectOneLine(production, 2, /^annals: DATABASE_URL: is not set, and NODE_ENV is production: set it to your database .*, or set ANNALS_DATA_DIR to run on an embedded PGlite/);
    for (const result of [mysql, garbage, production]) expect(result.stdout + result.stderr).not.toContain('hunter2');
  });
});

describe('annals, given a database it cannot use', () => {
  it('exits 1 with one line naming the target and the cause: nothing listening, no such database', { timeout: 120_000 }, async () => {
    const port = await closedPort();
    const database = missingName('db');
    const [refused, missing] = await Promise.all([
      runAnnals(['status', '--config', config], { DATABASE_URL: urlWith({ host: '127.0.0.1', port }) }),
      runAnnals(['consumers', 'status', '--config', consumerConfig], { DATABASE_URL: urlWith({ database }) }),
    ]);
    expectOneLine(refused, 1, new RegExp(`^annals: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database "${testDatabase}", user "${testUser}"\\): connection refused; `));
    expectOneLine(missing, 1, new RegExp(`^annals: cannot connect to PostgreSQL at \\S+ \\(database "${database}", user "${testUser}"\\): database "${database}" does not exist; `));
    for (const result of [refused, missing]) expect(result.stderr).not.toContain('hunter2');
  });

  it('exits 1 saying to migrate a schema that never was, from status and from a worker', { timeout: 120_000 }, async () => {
    const [status, run] = await Promise.all([runAnnals(['status', '--config', unmigratedConfig]), runAnnals(['projections', 'run', '--config', unmigratedConfig])]);
    const line = new RegExp(`^annals: the event store's schema "${unmigrated}" is not migrated \\(it has no \\w+\\): run annals migrate, or store\\.migrate\\(\\), for this schema first\\n$`);
    expectOneLine(status, 1, line);
    expectOneLine(run, 1, line);
  });
});

describe('annals, saying which database it reads', () => {
  it('puts it first in the status tables, and on stderr beside JSON', { timeout: 120_000 }, async () => {
    const [status, statusJson, consumers, consumersJson] = await Promise.all([
      runAnnals(['status', '--config', config]),
      runAnnals(['status', '--json', '--config', config]),
      runAnnals(['consumers', 'status', '--config', consumerConfig]),
      runAnnals(['consumers', 'status', '--json', '--config', consumerConfig]),
    ]);
    for (const table of [status, consumers]) {
      expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: '' });
      expect(table.stdout.split('\n').slice(0, 2)).toEqual([`database: ${postgres}`, expect.stringMatching(/^head: \d+$/)]);
    }
    for (const json of [statusJson, consumersJson]) {
      expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: `annals: database: ${postgres}\n` });
      expect(JSON.parse(json.stdout)).toMatchObject({ head: expect.stringMatching(/^\d+$/) });
    }
  });

  it('names the embedded database, and that DATABASE_URL is not set, in production when ANNALS_DATA_DIR asks for it', { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'annals-cli-database-'));
    try {
      const env = { DATABASE_URL: '', ANNALS_DATA_DIR: dataDir, NODE_ENV: 'production' };
      expect((await runAnnals(['migrate', '--config', config], env)).code).toBe(0);
      const status = await runAnnals(['status', '--config', config], env);
      expect(status.code).toBe(0);
      expect(status.stdout.split('\n')[0]).toBe(`database: embedded PGlite in ${dataDir} (DATABASE_URL is not set), schema "${store.schema}"`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
