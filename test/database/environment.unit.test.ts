import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionFromEnvironment, ValidationError } from '../../src/index.js';

// The database the `annals` command and the demo run on, chosen from the environment as a
// new user sets it (docs/configuration.md, "Choosing the database").

/** The ValidationError `env` is refused with. */
function refusal(env: NodeJS.ProcessEnv): ValidationError {
  try {
    connectionFromEnvironment(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  return expect.unreachable(`accepted ${JSON.stringify(env)}`);
}

describe('connectionFromEnvironment, given DATABASE_URL', () => {
  it.each([
    ['postgres://ada:secret@db.example:6543/app', 'PostgreSQL at db.example:6543/app'],
    ['postgresql://ada@db.example/app', 'PostgreSQL at db.example:5432/app'],
    ['postgres://ada@db.example:6543/my%20app', 'PostgreSQL at db.example:6543/my app'],
    ['postgres:///app?host=/var/run/postgresql', 'PostgreSQL at /var/run/postgresql:5432/app'],
  ])('connects to %s, described as %s', (url, description) => {
    expect(connectionFromEnvironment({ DATABASE_URL: url })).toEqual({ config: { connectionString: url }, description });
  });

  it('never puts the password in the description', () => {
    expect(connectionFromEnvironment({ DATABASE_URL: 'postgres://ada:hunter2@db.example/app' }).description).not.toContain('hunter2');
  });

  it.each([
    ['a MySQL URL', 'mysql://ada:hunter2@db.example:3306/app', /^must be a PostgreSQL URL, starting postgres:\/\/ or postgresql:\/\/ \(its scheme is 'mysql'\)/],
    ['an http URL', 'http://db.example/app', /\(its scheme is 'http'\)/],
    ['a host and port without a scheme', 'db.example:5432/app', /^must be a PostgreSQL URL, starting postgres:\/\/ or postgresql:\/\/; for example/],
    ['a user and password without a scheme', 'ada:hunter2@db.example/app', /^must be a PostgreSQL URL, starting postgres:\/\/ or postgresql:\/\/; for example/],
    ['no URL at all', 'hunter2', /^is not a URL; expected one like postgres:\/\/user:password@host:5432\/database$/],
  ])('refuses %s with a ValidationError naming DATABASE_URL, never echoing the value', (_, url, reason) => {
    const error = refusal({ DATABASE_URL: url });
    expect(error).toMatchObject({ code: 'ANNALS_VALIDATION', field: 'DATABASE_URL' });
    expect(error.reason).toMatch(reason);
    expect(error.message).toBe(`DATABASE_URL: ${error.reason}`);
    expect(error.message).not.toContain('hunter');
  });

  it('takes DATABASE_URL over ANNALS_DATA_DIR, in production too', () => {
    const env = { DATABASE_URL: 'postgres://db.example/app', ANNALS_DATA_DIR: '/tmp/annals-unused', NODE_ENV: 'production' };
    expect(connectionFromEnvironment(env).config).toEqual({ connectionString: 'postgres://db.example/app' });
  });
});

describe('connectionFromEnvironment, without DATABASE_URL', () => {
  it.each([
    ['nothing set', {}],
    ['an empty DATABASE_URL', { DATABASE_URL: '' }],
    ['an empty ANNALS_DATA_DIR', { ANNALS_DATA_DIR: '' }],
    ['NODE_ENV=development', { NODE_ENV: 'development' }],
  ])('runs on an embedded PGlite in ./.annals-data, given %s', (_, env) => {
    const directory = resolve('.annals-data');
    expect(connectionFromEnvironment(env)).toEqual({ config: { pglite: directory }, description: `embedded PGlite in ${directory}` });
  });

  it('keeps the embedded database in ANNALS_DATA_DIR', () => {
    expect(connectionFromEnvironment({ ANNALS_DATA_DIR: 'data/annals' }).config).toEqual({ pglite: resolve('data/annals') });
  });

  it.each([
    ['nothing set', {}],
    ['an empty DATABASE_URL', { DATABASE_URL: '' }],
    ['an empty ANNALS_DATA_DIR', { DATABASE_URL: '', ANNALS_DATA_DIR: '' }],
  ])('refuses NODE_ENV=production with %s: a forgotten DATABASE_URL is not a fresh empty database', (_, env) => {
    const error = refusal({ ...env, NODE_ENV: 'production' });
    expect(error.field).toBe('DATABASE_URL');
    expect(error.reason).toMatch(/^is not set, and NODE_ENV is production: set it to your database \(postgres:\/\/.*\), or set ANNALS_DATA_DIR to run on an embedded PGlite/);
  });

  it('runs on the embedded PGlite in production when ANNALS_DATA_DIR chooses it on purpose', () => {
    expect(connectionFromEnvironment({ NODE_ENV: 'production', ANNALS_DATA_DIR: '/srv/annals' })).toEqual({
      config: { pglite: '/srv/annals' },
      description: 'embedded PGlite in /srv/annals',
    });
  });
});
