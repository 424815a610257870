#!/usr/bin/env node
// The `annals` command: the compiled CLI in dist/, on plain Node. A TypeScript config
// (annals.config.ts) is loaded through tsx only when there is one (src/cli/config.ts).
try {
  await import('../dist/cli/main.js');
} catch (error) {
  // Only a checkout that was never built lacks dist/; an installed package has it.
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('/dist/cli/main.js')) {
    console.error('annals: dist/ is missing: run `npm run build` in this checkout first (or `npm run annals -- ...`, which runs the sources)');
    process.exitCode = 1;
  } else {
    throw error;
  }
}
