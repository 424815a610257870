import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import * as annals from '../src/index.js';
import * as annalsTesting from '../src/testing/index.js';
import * as annalsOutbox from '../src/outbox/index.js';
import { testDatabaseUrl, useTestSchema } from './setup/database.js';

const run = promisify(execFile);
const { schema } = useTestSchema('readme');

/** The README's schema for the tour: its own, never the demo's and the CLI's `annals`. */
const tourSchema = `schema: 'annals_tour'`;

/** The ```ts blocks of a Markdown text (indented ones, in lists, too). */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^( *)```ts\n([\s\S]*?)^\1```/gm)].map((match) => match[2]!.replace(new RegExp(`^${match[1]}`, 'gm'), ''));
}

/** Single-line named imports: `import { a, type B } from 'module';` (the only kind the examples use). */
const namedImport = /^import (type )?\{([^}]*)\} from '([^']+)';( \/\/.*)?\n/gm;

// The README promises that its blocks, from the tour to the projections, run as they
// stand, in order, and again: a user pastes them into a project of their own.
it('runs the README tour as written, twice, and type-checks it', { timeout: 120_000 }, async () => {
  const readme = await readFile('README.md', 'utf8');
  const tour = readme.split('## A five-minute tour')[1]!.split('\n## Documentation')[0]!;
  const blocks = tsBlocks(tour);
  expect(blocks.length).toBeGreaterThanOrEqual(8);

  // As a user pastes them: one after the other, each name imported once.
  const program = blocks.join('\n');
  expect(program.split(tourSchema)).toHaveLength(2);

  // Inside the repository, so that 'annals' is this checkout (tsconfig.json's paths) and
  // zod is found in its node_modules, for tsx and tsc alike.
  const folder = join('test', '.tmp');
  const script = join(folder, `readme-tour-${process.pid}.ts`);
  const tsconfig = join(folder, `tsconfig-readme-${process.pid}.json`);
  await mkdir(folder, { recursive: true });
  // The test's own schema stands in for annals_tour, so runs never share one.
  await writeFile(script, program.replace(tourSchema, `schema: ${JSON.stringify(schema)}`));
  // The repository's compiler options (strict, noUncheckedIndexedAccess), on the script alone:
  // an undeclared name or an API that does not exist fails here, whether or not it runs.
  await writeFile(tsconfig, JSON.stringify({ extends: '../../tsconfig.json', include: [], files: [`readme-tour-${process.pid}.ts`] }));
  try {
    // Alongside the runs; it never rejects, so a failed run leaves no rejection unhandled.
    // Only the script's errors (and tsc's own) count: the sources have their own type-check.
    const typecheck = run(join('node_modules', '.bin', 'tsc'), ['--noEmit', '-p', tsconfig]).then(
      () => [],
      (error: { stdout?: string }) => (error.stdout ?? String(error)).split('\n').filter((line) => line.startsWith(script) || line.startsWith('error')),
    );
    const expected = [
      '2',
      'ANNALS_CONCURRENCY 1 2',
      'true',
      "[ '1:LikeCreated', '2:LikeCreated', '3:LikeRemoved' ]",
      '1',
      '2500',
      'WALLET_INSUFFICIENT_FUNDS',
      '0',
      '[ { likes: 2 } ]',
    ];
    // Twice in one schema: the second run finds the first one's streams, tables and
    // projection, and every id it makes is new, so it prints the same.
    for (let time = 1; time <= 2; time++) {
      const { stdout } = await run(join('node_modules', '.bin', 'tsx'), [script], {
        env: { ...process.env, DATABASE_URL: testDatabaseUrl },
      });
      expect(stdout.trim().split('\n'), `run ${time}`).toEqual(expected);
    }
    expect(await typecheck, "the README's code type-checks").toEqual([]);
  } finally {
    await rm(script, { force: true });
    await rm(tsconfig, { force: true });
  }
});

// Pages whose examples import a module the page itself defines, saying so.
const definedOnThePage: Record<string, readonly string[]> = {
  'docs/projections.md': ['./like-counts.js'],
  'docs/aggregates.md': ['./wallet.js'],
};

// Every example imports from the package as a user would, and only names it exports.
it.each([
  'README.md',
  'docs/architecture.md',
  'docs/event-store.md',
  'docs/global-log.md',
  'docs/aggregates.md',
  'docs/projections.md',
  'docs/consumers.md',
  'docs/limits.md',
  'docs/outbox.md',
  'docs/publishers.md',
  'docs/inbox.md',
])(
  'the examples of %s import from the package only what it exports',
  async (page) => {
    const blocks = tsBlocks(await readFile(page, 'utf8'));
    // Values are checked against the modules' exports; type names against their export lists.
    const entries = {
      annals: { values: annals, text: await readFile('src/index.ts', 'utf8') },
      'annals/testing': { values: annalsTesting, text: await readFile('src/testing/index.ts', 'utf8') },
      'annals/outbox': { values: annalsOutbox, text: await readFile('src/outbox/index.ts', 'utf8') },
    };
    for (const block of blocks) {
      for (const [, typeOnly, names, from] of block.matchAll(namedImport)) {
        if (from!.startsWith('.')) {
          expect(definedOnThePage[page] ?? [], `${page} imports ${from}`).toContain(from);
          continue;
        }
        const entry = entries[from as keyof typeof entries];
        if (!entry) continue; // node:, zod, kysely, pino, vitest
        for (const raw of names!.split(',').map((n) => n.trim()).filter(Boolean)) {
          const isType = Boolean(typeOnly) || raw.startsWith('type ');
          const name = raw.replace(/^type /, '');
          if (isType) expect(entry.text, `${page}: type ${name} from ${from}`).toMatch(new RegExp(`\\b${name}\\b`));
          else expect(Object.keys(entry.values), `${page}: ${name} from ${from}`).toContain(name);
        }
      }
      // Any other import is a default one from a package of the user's (pino, say).
      for (const [line] of block.replace(namedImport, '').matchAll(/^import .*$/gm)) {
        expect(line, `${page}: an import this check cannot read`).toMatch(/^import \w+ from '(?!annals|\.)[^']+';( \/\/.*)?$/);
      }
    }
  },
);
