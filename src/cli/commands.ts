import { resumeProjection } from '../index.js';
import { archiveCommands } from './archive-command.js';
import { configOf, jsonOption, print, text, type CommandInput, type CommandSpec, type OptionSpec } from './command-spec.js';
import { findProjection, selectProjections } from './config.js';
import { findDefaultConfigFile } from './config-module.js';
import { consumerCommands } from './consumer-commands.js';
import { deadLetterStatuses, listDeadLettersCommand, retryDeadLetterCommand, skipDeadLetterCommand } from './dead-letters-command.js';
import { migrateCommand } from './migrate-command.js';
import { outboxCommands } from './outbox-commands.js';
import { privacyCommands } from './privacy-command.js';
import { projectionsRunCommand } from './projections-run-command.js';
import { rebuildCommand } from './rebuild-command.js';
import { retentionCommands } from './retention-command.js';
import { schemasCommands } from './schemas-command.js';
import { runnerOptions, type RunnerFlags } from './run-options.js';
import { statusCommand } from './status-command.js';
import { serveCommand } from './serve-command.js';
import { schemaFor, withStore } from './store.js';
import { choiceOption, ExitCodes, positionOption } from './usage-error.js';

export { globalOptions, type CommandInput, type CommandSpec, type OptionSpec } from './command-spec.js';

// `projections dead-letters` and its `list` take the same options.
const deadLetterListOptions: Readonly<Record<string, OptionSpec>> = {
  projection: { type: 'string', value: 'NAME', description: 'only this projection' },
  status: { type: 'string', value: 'pending|retried|skipped|all', description: 'only dead letters in this state (default pending)' },
  json: jsonOption,
};

const runnerOptionSpecs: Readonly<Record<string, OptionSpec>> = {
  'batch-size': { type: 'string', value: 'N', description: 'events read per batch while live (default 500)' },
  'poll-interval-ms': { type: 'string', value: 'MS', description: 'longest wait for new events without a notification (default 1000)' },
  'lease-ttl-ms': { type: 'string', value: 'MS', description: 'how long a partition stays owned without a heartbeat (default 5000)' },
  'on-failure': { type: 'string', value: 'dead-letter|stop', description: 'after the last retry of a failing event (default dead-letter)' },
  'no-auto-rebuild': { type: 'boolean', description: 'do not rebuild on a version bump; wait for annals projections rebuild' },
  'worker-id': { type: 'string', value: 'ID', description: "this worker's name in leases and status (default host:pid:random)" },
};

const serviceEnvironment: Readonly<Record<string, string>> = {
  DATABASE_URL: 'the PostgreSQL database (postgres://user:password@host:5432/db); unset: an embedded PGlite',
  PORT: 'the port to listen on (default 4000)',
  HOST: 'the address to listen on (default 127.0.0.1; 0.0.0.0 in a container)',
  ANNALS_API_KEYS: 'API keys for mutations and admin operations: name:key[:writer+admin],... (docs/security.md)',
  ANNALS_JWT_SECRET: 'accept JWTs signed with this HS256 secret (or ANNALS_JWT_PUBLIC_KEY, a PEM key)',
  ANNALS_JWT_ISSUER: "the JWTs' required iss (and ANNALS_JWT_AUDIENCE, ANNALS_JWT_ROLES_CLAIM)",
  ANNALS_REQUIRE_TOKEN_FOR_READS: 'true: queries and subscriptions need a token too',
  ANNALS_OPEN_MUTATIONS: 'true: allow mutations without tokens in production (dangerous)',
  ANNALS_CORS_ORIGINS: 'origins allowed to call from a browser, comma separated',
  ANNALS_MUTATION_RATE_LIMIT: 'mutations per caller per window (docs/security.md)',
  ANNALS_MASTER_KEY: "wraps the data subjects' keys of personal fields: 32 bytes in base64 or hex (docs/privacy.md); in development a key is made in .annals-data",
  NODE_ENV: 'production: no GraphiQL, no introspection, no error details, mutations only with keys',
  LOG_LEVEL: 'pino level of the JSON logs on stdout (default info)',
};

const migrateOption: OptionSpec = { type: 'boolean', description: "create or upgrade the store's tables before serving (as annals migrate)" };

/** Every command, most specific path first where paths share words. */
export const commands: readonly CommandSpec[] = [
  {
    path: ['projections', 'run'],
    arguments: '[NAME...]',
    minArgs: 0,
    maxArgs: Infinity,
    summary: 'run the projections (default: all configured) until SIGTERM or SIGINT',
    options: runnerOptionSpecs,
    async run(input) {
      const config = await configOf(input);
      const projections = selectProjections(config, input.args);
      const options = runnerOptions(input.values as RunnerFlags);
      return withStore(schemaFor({ config: config.schema }), (store, { database }) =>
        projectionsRunCommand(store, projections, { ...options, inline: config.inline ?? [] }, database),
      );
    },
  },
  {
    path: ['projections', 'rebuild'],
    arguments: 'NAME',
    minArgs: 1,
    maxArgs: 1,
    summary: 'replay a projection into a new generation and switch readers to it; resumes an interrupted one',
    options: {
      from: { type: 'string', value: 'POSITION', description: 'replay from after this global position (default: the start of the log)' },
      'accept-removed-history': { type: 'boolean', description: 'rebuild even though retention removed events the replay would need (from what the log still holds)' },
      'worker-id': runnerOptionSpecs['worker-id']!,
      json: { type: 'boolean', description: 'print JSON lines on stdout: start, progress about every second, then the result (positions as strings)' },
    },
    async run(input) {
      const config = await configOf(input);
      const projection = findProjection(config, input.args[0]!);
      const from = positionOption('--from', text(input, 'from'));
      const runner = runnerOptions({ 'worker-id': text(input, 'worker-id') });
      return withStore(schemaFor({ config: config.schema }), (store) =>
        rebuildCommand(store, projection, config.inline ?? [], {
          ...(from === undefined ? {} : { from }),
          acceptRemovedHistory: input.values['accept-removed-history'] === true,
          runner,
          json: input.values.json === true,
        }),
      );
    },
  },
  {
    path: ['projections', 'dead-letters', 'list'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'list dead letters, oldest first (default: the pending ones)',
    options: deadLetterListOptions,
    run: listDeadLetters,
  },
  {
    path: ['projections', 'dead-letters', 'retry'],
    arguments: 'ID',
    minArgs: 1,
    maxArgs: 1,
    summary: "apply a dead-lettered event again with the projection's current code",
    options: {},
    async run(input) {
      const config = await configOf(input);
      return withStore(schemaFor({ config: config.schema }), async (store) => {
        print(await retryDeadLetterCommand(store, config.projections, input.args[0]!));
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['projections', 'dead-letters', 'skip'],
    arguments: 'ID',
    minArgs: 1,
    maxArgs: 1,
    summary: 'give up on a dead letter: it stays listed as skipped and is never applied',
    options: {},
    async run(input) {
      const config = await configOf(input);
      return withStore(schemaFor({ config: config.schema }), async (store) => {
        print(await skipDeadLetterCommand(store, input.args[0]!));
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['projections', 'dead-letters'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'the same as projections dead-letters list',
    options: deadLetterListOptions,
    run: listDeadLetters,
  },
  {
    path: ['projections', 'resume'],
    arguments: 'NAME',
    minArgs: 1,
    maxArgs: 1,
    summary: 'let the stopped partitions of a projection run again (after fixing its handler)',
    options: {},
    async run(input) {
      const config = await configOf(input);
      const projection = findProjection(config, input.args[0]!);
      return withStore(schemaFor({ config: config.schema }), async (store) => {
        const resumed = await resumeProjection(store, projection.name);
        print(
          resumed === 0
            ? `${projection.name} has no stopped partitions`
            : `resumed ${resumed} stopped partition(s) of ${projection.name}; running workers claim them on their next round`,
        );
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['serve'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: "serve the config's GraphQL service (API only; run the workers with annals projections run) until SIGTERM or SIGINT",
    options: { migrate: migrateOption },
    environment: serviceEnvironment,
    run: (input) => serve(input, false),
  },
  {
    path: ['start'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'serve the GraphQL service and run every configured projection and consumer in this one process (what npm start runs)',
    options: { migrate: migrateOption, ...runnerOptionSpecs },
    environment: serviceEnvironment,
    run: (input) => serve(input, true),
  },
  ...consumerCommands,
  ...outboxCommands,
  ...schemasCommands,
  ...retentionCommands,
  ...archiveCommands,
  ...privacyCommands,
  {
    path: ['status'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'where every configured projection stands: checkpoint, lag, throughput, owner, rebuild progress',
    options: { json: jsonOption },
    async run(input) {
      const config = await configOf(input);
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        print(await statusCommand(store, config.projections, { json: input.values.json === true, database, outboxes: config.outboxes ?? [], retention: config.retention }));
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['migrate'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: "create or upgrade the event store's tables, then exit",
    options: { schema: { type: 'string', value: 'NAME', description: "the store's schema (default: the config's, ANNALS_SCHEMA, else annals)" } },
    environment: {
      DATABASE_URL: 'the PostgreSQL database (postgres://user:password@host:5432/db); unset: an embedded PGlite',
      ANNALS_DATA_DIR: "the embedded PGlite's folder when DATABASE_URL is unset (default ./.annals-data; required with NODE_ENV=production)",
      ANNALS_SCHEMA: "the store's schema when neither --schema nor the config names one (default annals)",
    },
    async run(input) {
      // The config is optional here: a fresh project migrates before it has projections.
      const explicit = input.values.config !== undefined;
      const config = explicit || (await findDefaultConfigFile()) !== undefined ? await configOf(input) : undefined;
      return withStore(schemaFor({ flag: text(input, 'schema'), config: config?.schema }), async (store, { description }) => {
        print(await migrateCommand(store, description));
        return ExitCodes.ok;
      });
    },
  },
];

async function serve(input: CommandInput, withWorkers: boolean): Promise<number> {
  const config = await configOf(input);
  const options = withWorkers ? runnerOptions(input.values as RunnerFlags) : undefined;
  return withStore(schemaFor({ config: config.schema }), async (store, { description, database }) => {
    if (input.values.migrate === true) process.stderr.write(`annals: ${await migrateCommand(store, description)}\n`);
    const workers = options ? { projections: config.projections, consumers: config.consumers ?? [], options } : undefined;
    return serveCommand({ store, config, database, ...(workers ? { workers } : {}) });
  });
}

async function listDeadLetters(input: CommandInput): Promise<number> {
  const config = await configOf(input);
  const name = text(input, 'projection');
  if (name !== undefined) findProjection(config, name);
  const status = choiceOption('--status', text(input, 'status'), deadLetterStatuses) ?? 'pending';
  return withStore(schemaFor({ config: config.schema }), async (store) => {
    print(await listDeadLettersCommand(store, { status, json: input.values.json === true, ...(name === undefined ? {} : { projection: name }) }));
    return ExitCodes.ok;
  });
}
