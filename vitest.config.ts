import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  // 'annals' in this repository's tests and examples is the sources (tsconfig.json's paths);
  // the package's users get dist/ through package.json's exports.
  resolve: {
    alias: [
      { find: /^annals$/, replacement: source('./src/index.ts') },
      { find: /^annals\/testing$/, replacement: source('./src/testing/index.ts') },
      { find: /^annals\/server$/, replacement: source('./src/server/index.ts') },
      { find: /^annals\/outbox$/, replacement: source('./src/outbox/index.ts') },
      // graphql 16 ships a CommonJS and an ES module build; Node and mercurius load the
      // CommonJS one, vite would give tests the other, and a schema made by one is refused
      // by the other. Tests get what Node gives an application.
      { find: /^graphql$/, replacement: source('./node_modules/graphql/index.js') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    // Child processes and real connections: the default 5 s is too tight on 2 cores.
    testTimeout: 60_000,
    // The master key of personal data (docs/privacy.md) for the example domains' stores,
    // and for the CLI and service processes tests start (they inherit the environment).
    env: { ANNALS_MASTER_KEY: process.env.ANNALS_MASTER_KEY ?? 'dGVzdCBtYXN0ZXIga2V5IG9mIEFubmFscycgdGVzdHM=' },
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/setup/summary-reporter.ts'],
  },
});
