import { describe, expect, it } from 'vitest';
import { useTestSchema } from '../setup/database.js';
import { runAnnals, writeTestConfig } from './support/cli.js';

const { schema } = useTestSchema('cli_serve');
const config = await writeTestConfig(schema);

// What `annals serve` and `annals start` refuse before they listen; test/demo/npm-start.int.test.ts runs them.
describe('annals serve and annals start: bad set-ups', () => {
  it('refuse a config without a service, in one line, with exit code 2', { timeout: 60_000 }, async () => {
    for (const command of ['serve', 'start']) {
      const result = await runAnnals([command, '--config', config]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe('annals: the config has no service: add service: { parts: [...] } to its default export (docs/server.md, "Running it")\n');
    }
  });

  it('refuse a malformed PORT, naming it, with exit code 2', { timeout: 60_000 }, async () => {
    const result = await runAnnals(['serve'], { PORT: 'http' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^annals: PORT: must be a port number from 0 to 65535/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuse an unknown option with the command\'s usage', async () => {
    const result = await runAnnals(['serve', '--batch-size', '5']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^annals: Unknown option '--batch-size'/);
  });
});
