import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { testDatabaseUrl, useTestSchema } from '../setup/database.js';

const run = promisify(execFile);
const { schema } = useTestSchema('sub_doc');

// docs/subscriptions.md promises a complete example a user can paste: it runs as written,
// prints what the page says, and type-checks under the repository's settings. It imports
// projectionSubscription from 'annals/server', as a user does.
it('runs the complete example of docs/subscriptions.md and prints what the page shows', { timeout: 180_000 }, async () => {
  const page = await readFile('docs/subscriptions.md', 'utf8');
  const section = page.split('\n## A complete example\n')[1]!;
  const [, code, printed] = /```ts\n([\s\S]*?)\n```[\s\S]*?```\n([\s\S]*?)\n```/.exec(section)!;
  expect(code).toContain(`{ schema: 'stock_example' }`);

  const folder = join('test', '.tmp');
  const script = join(folder, `subscriptions-example-${process.pid}.ts`);
  const tsconfig = join(folder, `tsconfig-subscriptions-example-${process.pid}.json`);
  await mkdir(folder, { recursive: true });
  await writeFile(script, code!.replace(`{ schema: 'stock_example' }`, `{ schema: ${JSON.stringify(schema)} }`));
  await writeFile(tsconfig, JSON.stringify({ extends: '../../tsconfig.json', include: [], files: [`subscriptions-example-${process.pid}.ts`] }));
  try {
    const typecheck = run(join('node_modules', '.bin', 'tsc'), ['--noEmit', '-p', tsconfig]).then(
      () => [],
      (error: { stdout?: string }) => (error.stdout ?? String(error)).split('\n').filter((line) => line.startsWith(script) || line.startsWith('error')),
    );
    const { stdout } = await run(join('node_modules', '.bin', 'tsx'), [script], { env: { ...process.env, DATABASE_URL: testDatabaseUrl } });
    expect(stdout.trim().split('\n')).toEqual(printed!.split('\n'));
    expect(await typecheck, 'the example type-checks').toEqual([]);
  } finally {
    await rm(script, { force: true });
    await rm(tsconfig, { force: true });
  }
});
