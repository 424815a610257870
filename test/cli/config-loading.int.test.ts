import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';
import { annalsFromSources } from './support/cli.js';

const exec = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'annals-config-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const { schema } = useTestSchema('config_loading');

/** `annals ...args` from the sources in a real Node process (vitest's own importer would load the config otherwise). */
async function annals(args: string[], cwd = dir): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [...annalsFromSources, ...args], { cwd, env: { ...process.env, DATABASE_URL: testDatabaseUrl } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

async function configFile(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, [...lines, ''].join('\n'));
  return path;
}

describe('a config with a syntax error', () => {
  it('in JavaScript: names the file, the line and the column', async () => {
    const file = await configFile('broken.mjs', ['export default {', "  schema: 'x',,", '};']);
    expect(await annals(['status', '--config', file])).toMatchObject({
      code: 2,
      stderr: `annals: config file ${file} could not be loaded: ${file}:2:15: SyntaxError: Unexpected token ','\n`,
    });
  });

  it('in TypeScript: gives the loader\'s message, with the file, the line and the column', async () => {
    const file = await configFile('broken.ts', ['export default {', "  schema: 'x' as string,,", '};']);
    expect(await annals(['status', '--config', file])).toMatchObject({
      code: 2,
      stderr: `annals: config file ${file} could not be loaded: ${file}:2:24: ERROR: Expected identifier but found ","\n`,
    });
  });

  it('in a module the config imports: says so', async () => {
    await configFile('helper.mjs', ['export const x = ;']);
    const file = await configFile('imports-broken.mjs', ["import { x } from './helper.mjs';", 'export default { projections: [x] };']);
    expect(await annals(['status', '--config', file])).toMatchObject({
      code: 2,
      stderr: `annals: config file ${file} could not be loaded: Unexpected token ';' (in a module the config imports)\n`,
    });
  });
});

describe('without --config', () => {
  it('finds annals.config.mjs in the working directory and loads it on plain Node', async () => {
    const project = await mkdtemp(join(dir, 'project-'));
    await writeFile(join(project, 'annals.config.mjs'), `export default { schema: ${JSON.stringify(schema)}, projections: [] };\n`);
    const { code, stdout } = await annals(['migrate'], project);
    expect(code).toBe(0);
    expect(stdout).toContain(`to schema "${schema}"`);
  });

  it('names the files it looked for when there is none', async () => {
    const empty = await mkdtemp(join(dir, 'empty-'));
    expect(await annals(['status'], empty)).toMatchObject({
      code: 2,
      stderr: `annals: no config file in ${empty} (looked for annals.config.ts, annals.config.mts, annals.config.js, annals.config.mjs; give one with --config PATH)\n`,
    });
  });
});
