import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const fixture = join(root, 'test', 'package', 'fixture');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const { devDependencies } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const migrationCount = (await readdir(join(root, 'migrations'))).filter((file) => file.endsWith('.sql')).length;

// One schema per program run here: the plain-Node app, its esbuild bundle, the CLI.
const appSchema = useTestSchema('pkg_app').schema;
const bundleSchema = useTestSchema('pkg_bundle').schema;
const cliSchema = useTestSchema('pkg_cli').schema;

/**
 * The environment of a program in the user's project. `npm test` exports npm_* variables
 * (npm_config_local_prefix among them) that would make a nested npm act on this
 * repository instead of the project; a user's shell has none of them.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  return { ...env, DATABASE_URL: testDatabaseUrl, ...extra };
}

async function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  try {
    return { code: 0, ...(await exec(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), maxBuffer: 16 * 1024 * 1024 })) };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

// The package as a user gets it: `npm pack` (which builds, by prepack), the tarball
// installed into a project of its own in a temporary folder, with no way to reach this
// repository's node_modules; then used from plain Node, tsc, npx and an esbuild bundle.
describe('the packed package, installed in a project of its own', () => {
  let work: string;
  let project: string;
  let packedFiles: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'annals-package-'));
    const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: root, env: userEnv() });
    expect(packed.code, packed.stderr).toBe(0);
    const [tarball] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    packedFiles = tarball!.files.map((file) => file.path);
    project = join(work, 'project');
    await mkdir(project);
    for (const file of await readdir(fixture)) await copyFile(join(fixture, file), join(project, file));
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'annals-user', private: true, type: 'module' }));
    const installed = await run(
      'npm',
      ['install', join(work, tarball!.filename), `@types/node@${devDependencies['@types/node']}`, '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: project },
    );
    expect(installed.code, installed.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the build, the sources its maps point to, the migrations, README and LICENSE: nothing else', () => {
    const outside = packedFiles.filter((path) => !/^(dist|src|migrations|bin)\//.test(path) && !['package.json', 'README.md', 'LICENSE'].includes(path));
    expect(outside).toEqual([]);
    expect(packedFiles).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/index.d.ts.map', 'dist/testing/index.js', 'dist/testing/index.d.ts', 'dist/cli/main.js', 'bin/annals.mjs', 'README.md', 'LICENSE']),
    );
    expect(packedFiles.filter((path) => path.includes('.test.'))).toEqual([]);
  });

  const expectedRun = { applied: migrationCount, state: { count: 5 }, stale: 'ANNALS_CONCURRENCY', versions: [1, 2], total: 5 };

  it('runs a plain Node ESM program: migrate, commands, append, read, a projection caught up', { timeout: 120_000 }, async () => {
    const result = await run(process.execPath, ['app.mjs'], { cwd: project, env: userEnv({ ANNALS_SCHEMA: appSchema }) });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(expectedRun);
  });

  it.each(['nodenext', 'bundler'])(
    'type-checks a user file under strict, exactOptionalPropertyTypes, noPropertyAccessFromIndexSignature, skipLibCheck false, target ES2022 (%s)',
    { timeout: 180_000 },
    async (resolution) => {
      const result = await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], { cwd: project });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    },
  );

  it('runs `npx annals` on plain Node: help, migrate, status with a JavaScript config', { timeout: 180_000 }, async () => {
    const annals = (args: string[]) => run('npx', ['--no', '--', 'annals', ...args], { cwd: project, env: userEnv({ ANNALS_SCHEMA: cliSchema }) });
    const help = await annals(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: annals <command>/);
    const migrate = await annals(['migrate']);
    expect(migrate.stderr).toBe('');
    expect(migrate.stdout).toContain(`to schema "${cliSchema}"`);
    const status = await annals(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ head: expect.any(String), partitions: [] }); // no worker has run 'totals' yet
  });

  it('says that a TypeScript config needs tsx when tsx is not installed, and exits 2', { timeout: 120_000 }, async () => {
    await copyFile(join(project, 'annals.config.mjs'), join(project, 'annals.config.ts'));
    try {
      const result = await run('npx', ['--no', '--', 'annals', 'status'], { cwd: project, env: userEnv({ ANNALS_SCHEMA: cliSchema }) });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^annals: config file .*annals\.config\.ts is TypeScript, which needs tsx to load: install it/);
    } finally {
      await rm(join(project, 'annals.config.ts'));
    }
  });

  it('runs from an esbuild bundle in a folder of its own, migrations included', { timeout: 180_000 }, async () => {
    const elsewhere = join(work, 'bundled');
    await build({
      absWorkingDir: project,
      entryPoints: ['app.mjs'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: join(elsewhere, 'app.mjs'),
      logLevel: 'silent',
      // pg and pino are CommonJS: an ESM bundle gives them `require`, as any Node ESM bundle must.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    expect(await readdir(elsewhere)).toEqual(['app.mjs']);
    const result = await run(process.execPath, ['app.mjs'], { cwd: elsewhere, env: userEnv({ ANNALS_SCHEMA: bundleSchema }) });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(expectedRun);
  });
});
