/**
 * `npm run migrate [-- --schema NAME]` (`tsx src/cli/migrate.ts`): `annals migrate`,
 * which creates or upgrades the event store's tables in DATABASE_URL (or the embedded
 * database), then exits. It runs that command's path, so both take the same options,
 * print the same help and fail alike: an unknown option is one line and exit code 2, a
 * failure one line (no stack) and exit code 1 (docs/cli.md).
 */
import { runCli } from './run-cli.js';

process.exitCode = await runCli(['migrate', ...process.argv.slice(2)]);
