import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PrivacyKeyError } from '../../src/index.js';
import { developmentKeyFile, developmentMasterKey } from '../../src/privacy/development-key.js';
import { masterKeyVariable, parseMasterKey } from '../../src/privacy/master-key.js';
import { thrown } from '../support/thrown.js';

// `npm start` with nothing set makes a development master key beside the embedded data
// (docs/privacy.md); every master key, from there or from ANNALS_MASTER_KEY, is parsed by
// parseMasterKey, whose errors name where the key came from and never the key itself.

// readFileSync is wrapped (and otherwise unchanged) so one test can play a second process
// that writes the key file between this one's read and its write.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return { ...actual, readFileSync: vi.fn(actual.readFileSync) };
});

describe('developmentMasterKey', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'annals-dev-key-'));
  });

  afterEach(async () => {
    vi.mocked(fs.readFileSync).mockClear();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes master.key with mode 0600 holding 32 bytes on first use', () => {
    const { key, file } = developmentMasterKey(dir);
    expect(file).toBe(join(dir, developmentKeyFile));
    expect(key).toHaveLength(32);
    expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
    expect(parseMasterKey(fs.readFileSync(file!, 'utf8'), file!)).toEqual(key);
  });

  it('makes the data folder when it does not exist yet', () => {
    const nested = join(dir, 'data', 'pglite');
    const { key, file } = developmentMasterKey(nested);
    expect(file).toBe(join(nested, developmentKeyFile));
    expect(parseMasterKey(fs.readFileSync(file!, 'utf8'), file!)).toEqual(key);
  });

  it('returns the same key on a second call', () => {
    const first = developmentMasterKey(dir);
    const second = developmentMasterKey(dir);
    expect(second.file).toBe(first.file);
    expect(second.key).toEqual(first.key);
  });

  it('reads a key file written by hand (hex)', () => {
    const hex = 'ab'.repeat(32);
    fs.writeFileSync(join(dir, developmentKeyFile), `${hex}\n`);
    expect(developmentMasterKey(dir).key).toEqual(Buffer.from(hex, 'hex'));
  });

  it('refuses a malformed key file with PrivacyKeyError (malformed) naming the file, and leaves it as it is', () => {
    const file = join(dir, developmentKeyFile);
    fs.writeFileSync(file, 'not-a-key\n');
    const error = thrown(() => developmentMasterKey(dir));
    expect(error).toBeInstanceOf(PrivacyKeyError);
    expect(error).toMatchObject({ code: 'ANNALS_PRIVACY_KEY', problem: 'malformed' });
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).not.toContain('not-a-key');
    expect(fs.readFileSync(file, 'utf8')).toBe('not-a-key\n');
  });

  it('refuses an empty key file as malformed, naming the file (never as an unset variable)', () => {
    const file = join(dir, developmentKeyFile);
    fs.writeFileSync(file, '');
    const error = thrown(() => developmentMasterKey(dir));
    expect(error).toBeInstanceOf(PrivacyKeyError);
    expect(error).toMatchObject({ problem: 'malformed' });
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).not.toContain('is not set');
  });

  it('leaves no draft file behind', () => {
    developmentMasterKey(dir);
    expect(fs.readdirSync(dir)).toEqual([developmentKeyFile]);
  });

  it("gives 'memory://' a random key for the process's life and writes no file", () => {
    const first = developmentMasterKey('memory://');
    const second = developmentMasterKey('memory://');
    expect(first.file).toBeUndefined();
    expect(first.key).toHaveLength(32);
    expect(second.key).not.toEqual(first.key);
    expect(fs.existsSync('memory:')).toBe(false);
  });

  it('takes the key of a process that wrote the file between its read and its write (EEXIST)', () => {
    const file = join(dir, developmentKeyFile);
    const theirs = Buffer.alloc(32, 7);
    // The other process: the file is absent when this one reads, and present when it writes.
    vi.mocked(fs.readFileSync).mockImplementationOnce(() => {
      fs.writeFileSync(file, `${theirs.toString('base64')}\n`, { mode: 0o600 });
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${file}'`), { code: 'ENOENT' });
    });
    const { key } = developmentMasterKey(dir);
    expect(key).toEqual(theirs);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${theirs.toString('base64')}\n`);
  });
});

describe('parseMasterKey', () => {
  const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 251) % 256));

  it('reads 64 hex digits, in either case, trimmed', () => {
    expect(parseMasterKey(bytes.toString('hex'), 'K')).toEqual(bytes);
    expect(parseMasterKey(bytes.toString('hex').toUpperCase(), 'K')).toEqual(bytes);
    expect(parseMasterKey(`  ${bytes.toString('hex')}\n`, 'K')).toEqual(bytes);
  });

  it('reads base64 (44 characters), and base64url with or without padding', () => {
    const base64 = bytes.toString('base64');
    expect(base64).toHaveLength(44);
    expect(parseMasterKey(base64, 'K')).toEqual(bytes);
    expect(parseMasterKey(`${base64}\n`, 'K')).toEqual(bytes);
    const base64url = bytes.toString('base64url');
    expect(base64url).toMatch(/[-_]/);
    expect(parseMasterKey(base64url, 'K')).toEqual(bytes);
    expect(parseMasterKey(`${base64url}=`, 'K')).toEqual(bytes);
  });

  it('takes a Buffer of 32 bytes as a copy', () => {
    const given = Buffer.from(bytes);
    const parsed = parseMasterKey(given, 'K');
    expect(parsed).toEqual(bytes);
    given.fill(0);
    expect(parsed).toEqual(bytes);
  });

  it.each([
    ['a Buffer of 31 bytes', Buffer.alloc(31, 1)],
    ['a Buffer of 33 bytes', Buffer.alloc(33, 1)],
    ['63 hex digits', 'a'.repeat(63)],
    ['62 hex digits (31 bytes)', 'ab'.repeat(31)],
    ['66 hex digits (33 bytes)', 'ab'.repeat(33)],
    ['base64 of 31 bytes', Buffer.alloc(31, 9).toString('base64')],
    ['base64 of 33 bytes', Buffer.alloc(33, 9).toString('base64')],
    ['base64 of 16 bytes', Buffer.alloc(16, 9).toString('base64')],
    ['10 characters', 'secret-key'],
    ['whitespace only', '  \n'],
    ['a space inside', `${bytes.toString('base64').slice(0, 20)} ${bytes.toString('base64').slice(20)}`],
    ['a character outside base64', `${bytes.toString('base64').slice(0, 43)}!`],
  ])("refuses %s as 'malformed', naming the source and not the value", (_name, value) => {
    const error = thrown(() => parseMasterKey(value, 'SOME_SOURCE'));
    expect(error).toBeInstanceOf(PrivacyKeyError);
    expect(error).toMatchObject({ code: 'ANNALS_PRIVACY_KEY', problem: 'malformed' });
    const message = (error as Error).message;
    expect(message).toContain('SOME_SOURCE');
    if (typeof value === 'string' && value.trim().length > 0) expect(message).not.toContain(value.trim());
    if (Buffer.isBuffer(value)) {
      expect(message).not.toContain(value.toString('hex'));
      expect(message).not.toContain(value.toString('base64'));
    }
  });

  it.each([
    ['undefined', undefined],
    ['the empty string', ''],
  ])("refuses %s as 'missing', naming the variable", (_name, value) => {
    const error = thrown(() => parseMasterKey(value, masterKeyVariable));
    expect(error).toBeInstanceOf(PrivacyKeyError);
    expect(error).toMatchObject({ problem: 'missing' });
    expect((error as Error).message).toContain('ANNALS_MASTER_KEY is not set');
  });

  it('never repeats a valid-looking key of the wrong length in its message', () => {
    const almost = Buffer.alloc(31, 0x5a).toString('hex');
    const error = thrown(() => parseMasterKey(almost, 'options.privacy.masterKey'));
    expect((error as Error).message).toContain('options.privacy.masterKey');
    expect((error as Error).message).not.toContain(almost);
    expect((error as Error).message).not.toContain('5a5a5a');
  });
});
