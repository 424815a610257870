/**
 * The `annals` command (bin/annals.mjs, `npm run annals -- ...`): see docs/cli.md.
 */
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2));
