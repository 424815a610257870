import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { loadMigrations } from '../../src/database/migrator.js';

const run = promisify(execFile);

// The migrator runs the copies embedded in the code (so a bundle finds them); the .sql
// files are what people read and edit. They must not drift apart.
it('embeds exactly the files in migrations/', async () => {
  const fromFiles = await loadMigrations(new URL('../../migrations/', import.meta.url));
  const embedded = await loadMigrations();
  expect(fromFiles.length).toBeGreaterThan(0);
  expect(embedded).toEqual(fromFiles);
});

it('has embed-migrations --check agree that the module is up to date', async () => {
  await expect(run(process.execPath, ['scripts/embed-migrations.mjs', '--check'])).resolves.toBeDefined();
});
