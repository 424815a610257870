import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { testDatabaseUrl, useTestSchema } from './setup/database.js';

const run = promisify(execFile);
const { schema } = useTestSchema('readme');

// The README's tour promises that its blocks run as they stand, in order. They do.
it('runs the README tour as written', async () => {
  const readme = await readFile('README.md', 'utf8');
  const tour = readme.split('## A five-minute tour')[1]!.split('\n## ')[0]!;
  const blocks = [...tour.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
  expect(blocks.length).toBeGreaterThanOrEqual(6);

  // Inside the package, so that `import … from 'annals'` resolves to this checkout.
  const folder = join('test', '.tmp');
  const script = join(folder, `readme-tour-${process.pid}.ts`);
  await mkdir(folder, { recursive: true });
  await writeFile(script, blocks.join('\n'));
  try {
    const { stdout } = await run(join('node_modules', '.bin', 'tsx'), [script], {
      env: { ...process.env, DATABASE_URL: testDatabaseUrl, ANNALS_SCHEMA: schema },
    });
    expect(stdout.trim().split('\n')).toEqual([
      '2',
      'ANNALS_CONCURRENCY 1 2',
      'true',
      "[ '1:LikeCreated', '2:LikeCreated', '3:LikeRemoved' ]",
      '1',
    ]);
  } finally {
    await rm(script, { force: true });
  }
});
