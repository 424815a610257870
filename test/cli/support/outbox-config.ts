import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

/**
 * Writes an annals.config.ts of outboxes in a folder of its own under test/.tmp (named
 * after `name`), removed after the file: `z` and the outbox API (`defineOutbox`,
 * `webhookPublisher`, from src/) imported, then `lines`. Call at the top level.
 *
 * @example
 * ```ts
 * const { config } = await writeOutboxConfig('cli-outbox', [`export default { schema: 's', projections: [], outboxes: [defineOutbox({ ... })] };`]);
 * ```
 */
export async function writeOutboxConfig(name: string, lines: readonly string[]): Promise<{ dir: string; config: string }> {
  const dir = join(root, 'test', '.tmp', `${name}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'annals.config.ts');
  const imports = [`import { z } from 'zod';`, `import { defineOutbox, webhookPublisher } from ${JSON.stringify(join(root, 'src', 'outbox', 'index.ts'))};`];
  await writeFile(config, [...imports, ...lines, ''].join('\n'));
  return { dir, config };
}
