import { expect, it } from 'vitest';
import type { EventStore, MigrationResult } from '../../src/index.js';
import { migrateCommand } from '../../src/cli/migrate-command.js';
import { environmentHelp } from '../../src/cli/command-spec.js';
import { commands } from '../../src/cli/commands.js';

const storeMigrating = (result: MigrationResult) => ({ schema: 'annals', migrate: async () => result }) as unknown as EventStore;

it('annals migrate says when it raised the position offset of a moved log', async () => {
  const moved = await migrateCommand(storeMigrating({ applied: [], logOffset: { previous: 0n, current: 1_300_000n } }), 'PostgreSQL at db:5432/app');
  expect(moved).toBe(
    'schema "annals" on PostgreSQL at db:5432/app is up to date\n' +
      'the log came from another server: raised its position offset from 0 to 1300000, so new events land above it',
  );
  expect(await migrateCommand(storeMigrating({ applied: ['0006_log_order_and_bound'] }), 'here')).toBe(
    'applied 0006_log_order_and_bound to schema "annals" on here',
  );
});

it("annals migrate's help lists the environment variables that choose the database and schema", () => {
  const migrate = commands.find((command) => command.path.join(' ') === 'migrate')!;
  const lines = environmentHelp(migrate).split('\n');
  expect(lines[0]).toBe('Environment:');
  expect(lines.slice(1).map((line) => line.trim().split(/\s+/)[0])).toEqual(['DATABASE_URL', 'ANNALS_DATA_DIR', 'ANNALS_SCHEMA']);
  // The descriptions start in the column of the options' descriptions above them (2 + 34 + 1).
  for (const line of lines.slice(1)) expect(line.slice(36)).toMatch(/^ \S/);
  expect(environmentHelp({})).toBe('');
});
