import { expect, it } from 'vitest';
import { connectionFromEnvironment as cliConnection } from '../../src/cli/environment.js';
import { connectionFromEnvironment as demoConnection } from '../../examples/demo/connection.js';

// The demo chooses its database as the `annals` command does, so the command sees the
// demo's data (examples/demo/connection.ts says why it has its own copy).
it.each([
  ['no DATABASE_URL', {}],
  ['an empty DATABASE_URL', { DATABASE_URL: '' }],
  ['ANNALS_DATA_DIR', { ANNALS_DATA_DIR: '/tmp/annals-demo-data' }],
  ['DATABASE_URL', { DATABASE_URL: 'postgres://postgres@db.example:6543/app' }],
  ['DATABASE_URL without a port', { DATABASE_URL: 'postgres://postgres@db.example/app' }],
])('chooses the database as the annals command does, given %s', (_, env) => {
  expect(demoConnection(env)).toEqual(cliConnection(env));
});
