import pino from 'pino';
import type { EventStore } from '../index.js';
import type { Outbox } from '../outbox/define-outbox.js';
import { outboxStatus } from '../outbox/outbox-status.js';
import { listParkedMessages, retryParkedMessage, skipParkedMessage, type ParkedMessage, type ReleaseResult } from '../outbox/parked-messages.js';
import { runOutboxRelay, type OutboxRelay } from '../outbox/run-outbox-relay.js';
import { configOf, jsonOption, print, text, type CommandInput, type CommandSpec, type OptionSpec } from './command-spec.js';
import { findOutbox, selectOutboxes } from './config.js';
import { formatCount, formatTable, toJson, truncate } from './output.js';
import { listenForStop } from './signals.js';
import { formatOutboxStatus } from './status-command.js';
import { announceDatabase, schemaFor, withStore } from './store.js';
import { choiceOption, ExitCodes, integerOption, UsageError } from './usage-error.js';

/**
 * `annals outbox ...`: the relays of the outboxes the config lists (`outboxes: [...]`,
 * made with defineOutbox), their status, and their parked messages (docs/outbox.md).
 */

const parkedStatuses = ['unresolved', 'parked', 'held', 'published', 'skipped', 'all'] as const;

const listOptions: Readonly<Record<string, OptionSpec>> = {
  outbox: { type: 'string', value: 'NAME', description: 'only this outbox' },
  status: { type: 'string', value: 'STATUS', description: `only messages in this state: ${parkedStatuses.join(', ')} (default unresolved: parked and held)` },
  destination: { type: 'string', value: 'NAME', description: 'only this destination' },
  key: { type: 'string', value: 'KEY', description: 'only this ordering key (a stream id by default)' },
  json: jsonOption,
};

const releaseOptions: Readonly<Record<string, OptionSpec>> = {
  outbox: { type: 'string', value: 'NAME', description: 'the outbox of the message (default: the configured one that has it)' },
};

export const outboxCommands: readonly CommandSpec[] = [
  {
    path: ['outbox', 'relay'],
    arguments: '[NAME...]',
    minArgs: 0,
    maxArgs: Infinity,
    summary: 'run the relays of the outboxes (default: all configured) until SIGTERM or SIGINT',
    options: {
      'poll-interval-ms': { type: 'string', value: 'MS', description: 'longest wait for new events without a notification (default 1000)' },
      'lease-ttl-ms': { type: 'string', value: 'MS', description: 'how long a partition stays owned without a heartbeat (default 5000)' },
      'worker-id': { type: 'string', value: 'ID', description: "this relay's name in leases and status (default host:pid:random)" },
    },
    async run(input) {
      const config = await configOf(input);
      const outboxes = selectOutboxes(config, input.args);
      const pollIntervalMs = integerOption('--poll-interval-ms', text(input, 'poll-interval-ms'));
      const leaseTtlMs = integerOption('--lease-ttl-ms', text(input, 'lease-ttl-ms'));
      const workerId = text(input, 'worker-id');
      const options = {
        ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
        ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
        ...(workerId === undefined ? {} : { workerId }),
      };
      return withStore(schemaFor({ config: config.schema }), (store, { database }) => relayCommand(store, outboxes, options, database));
    },
  },
  {
    path: ['outbox', 'status'],
    arguments: '[NAME...]',
    minArgs: 0,
    maxArgs: Infinity,
    summary: 'where the outboxes stand: pending, oldest, parked and held per destination; checkpoint, rate, owner per partition',
    options: { json: jsonOption },
    async run(input) {
      const config = await configOf(input);
      const outboxes = selectOutboxes(config, input.args);
      const json = input.values.json === true;
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        const announced = announceDatabase({ json, database });
        const status = await outboxStatus(store, outboxes);
        print(announced(json ? toJson(status) : `head: ${status[0]?.head ?? 0n}\n\n${formatOutboxStatus(status)}`));
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['outbox', 'parked', 'list'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'list parked messages and those held behind them, in log order (the order a retry publishes them)',
    options: listOptions,
    run: listParked,
  },
  {
    path: ['outbox', 'parked', 'retry'],
    arguments: 'ID',
    minArgs: 1,
    maxArgs: 1,
    summary: "publish a parked message's key again, in order from its first unresolved message, with the outbox's current mapping",
    options: releaseOptions,
    run: (input) => release(input, 'retry'),
  },
  {
    path: ['outbox', 'parked', 'skip'],
    arguments: 'ID',
    minArgs: 1,
    maxArgs: 1,
    summary: 'give up on a parked message (never published); the messages held behind it go out in order',
    options: releaseOptions,
    run: (input) => release(input, 'skip'),
  },
  {
    path: ['outbox', 'parked'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'the same as outbox parked list',
    options: listOptions,
    run: listParked,
  },
];

/**
 * Runs the outboxes' relays in this process until SIGTERM or SIGINT, then stops them
 * (the batches in flight finish or end, leases are released, publishers closed) and
 * exits 0. Logs are pino's JSON lines on stdout, the first naming the database. A broker
 * that is down is retried with backoff for as long as it takes (the relay's own policy).
 */
async function relayCommand(
  store: EventStore,
  outboxes: readonly Outbox[],
  options: { pollIntervalMs?: number; leaseTtlMs?: number; workerId?: string },
  database: string,
): Promise<number> {
  const logger = pino({ name: 'annals' });
  const names = outboxes.map((outbox) => outbox.name);
  const stop = listenForStop((signal) => logger.info({ signal }, 'stopping: finishing the batches in flight'));
  const relays: OutboxRelay[] = [];
  try {
    logger.info({ outboxes: names, database }, 'outbox relay starting');
    for (const outbox of outboxes) relays.push(runOutboxRelay(store, outbox, { ...options, logger: logger.child({ outbox: outbox.name }) }));
    const workers = relays.map((relay) => relay.workerId);
    const ready = Promise.all(relays.map((relay) => relay.ready));
    const first = await Promise.race([ready.then(() => 'ready' as const), stop.received.then(() => 'signal' as const)]);
    if (first === 'ready') {
      logger.info({ outboxes: names, workers }, 'outbox relay started');
      await stop.received;
    }
    await Promise.all(relays.map((relay) => relay.stop()));
    logger.info({ outboxes: names, workers }, 'outbox relay stopped; leases released');
    return ExitCodes.ok;
  } catch (error) {
    await Promise.all(relays.map((relay) => relay.stop().catch(() => {})));
    throw error;
  } finally {
    stop.dispose();
  }
}

async function listParked(input: CommandInput): Promise<number> {
  const config = await configOf(input);
  const name = text(input, 'outbox');
  const outboxes = selectOutboxes(config, name === undefined ? [] : [name]);
  const status = choiceOption('--status', text(input, 'status'), parkedStatuses) ?? 'unresolved';
  const destination = text(input, 'destination');
  const key = text(input, 'key');
  if (destination !== undefined && !outboxes.some((outbox) => outbox.destinations.has(destination))) {
    throw new UsageError(`no destination named '${destination}' (known: ${[...new Set(outboxes.flatMap((o) => [...o.destinations.keys()]))].join(', ')})`);
  }
  const json = input.values.json === true;
  return withStore(schemaFor({ config: config.schema }), async (store) => {
    const messages: ParkedMessage[] = [];
    for (const outbox of outboxes) {
      messages.push(...(await listParkedMessages(store, outbox, { status, ...(destination === undefined ? {} : { destination }), ...(key === undefined ? {} : { key }) })));
    }
    print(json ? toJson(messages) : formatParked(messages, status));
    return ExitCodes.ok;
  });
}

const parkedColumns = [
  { title: 'id', align: 'right' },
  { title: 'outbox' },
  { title: 'destination' },
  { title: 'key' },
  { title: 'position', align: 'right' },
  { title: 'event' },
  { title: 'status' },
  { title: 'attempts', align: 'right' },
  { title: 'error' },
] as const;

function formatParked(messages: readonly ParkedMessage[], status: string): string {
  if (messages.length === 0) return status === 'unresolved' ? 'no parked messages' : `no ${status === 'all' ? '' : `${status} `}parked messages`;
  const rows = messages.map((m) => [
    m.id,
    m.outbox,
    m.destination,
    m.key,
    m.globalPosition.toString(),
    m.eventType,
    m.status,
    formatCount(m.attempts),
    m.error === null ? '-' : truncate(m.error, 80),
  ]);
  return formatTable(parkedColumns, rows);
}

/**
 * Retries or skips a parked message. The id is the row's, unique across outboxes: the
 * outbox is the configured one that has it, unless --outbox names it. Exit 1 when a
 * message of the key failed again (parked with its new error), 2 for an unknown id.
 */
async function release(input: CommandInput, action: 'retry' | 'skip'): Promise<number> {
  const config = await configOf(input);
  const id = input.args[0]!;
  if (!/^\d{1,18}$/.test(id)) throw new UsageError(`ID must be the digits of a parked message id, got '${id}'`);
  const name = text(input, 'outbox');
  const outboxes = name === undefined ? selectOutboxes(config, []) : [findOutbox(config, name)];
  return withStore(schemaFor({ config: config.schema }), async (store) => {
    const rows = await store.withTransaction(
      (tx) => tx.query<{ outbox: string }>(`SELECT outbox FROM "${tx.schema}".outbox_parked_messages WHERE id = $1`, [id]),
      { appends: false },
    );
    const outbox = outboxes.find((o) => o.name === rows[0]?.outbox);
    if (!outbox) throw new UsageError(`no parked message ${id} in ${name === undefined ? 'the configured outboxes' : `outbox '${name}'`}; see annals outbox parked list`);
    try {
      const result = action === 'retry' ? await retryParkedMessage(store, outbox, id) : await skipParkedMessage(store, outbox, id);
      print(describeRelease(outbox.name, id, action, result));
      return result.failed ? ExitCodes.failed : ExitCodes.ok;
    } finally {
      // The publishers' connections (opened by the publishes) would keep the process alive.
      await outbox.close();
    }
  });
}

function describeRelease(outbox: string, id: string, action: 'retry' | 'skip', result: ReleaseResult): string {
  const done = action === 'skip' ? `skipped parked message ${id} of ${outbox}` : `retried parked message ${id} of ${outbox}`;
  const published = `${result.published} message(s) published`;
  if (result.failed) return `${done}: ${published}, then message ${result.failed.id} failed again and is parked: ${truncate(result.failed.error, 200)}; its key stays held`;
  return `${done}: ${published}`;
}
