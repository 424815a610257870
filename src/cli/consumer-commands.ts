import { resumeConsumer } from '../index.js';
import { configOf, jsonOption, print, text, type CommandInput, type CommandSpec, type OptionSpec } from './command-spec.js';
import { findConsumer, selectConsumers } from './config.js';
import { listConsumerDeadLettersCommand, retryConsumerDeadLetterCommand, skipConsumerDeadLetterCommand } from './consumer-dead-letters-command.js';
import { consumerStatusCommand } from './consumer-status-command.js';
import { deadLetterStatuses } from './dead-letters-command.js';
import { schemaFor, withStore } from './store.js';
import { choiceOption, ExitCodes } from './usage-error.js';

/**
 * `annals consumers ...`: the dead letters, stops and status of the consumers the config
 * lists (`consumers: [...]`, made with defineConsumer), as `annals projections ...` does
 * for projections. Running them stays the application's (runConsumers).
 */

// `consumers dead-letters` and its `list` take the same options.
const listOptions: Readonly<Record<string, OptionSpec>> = {
  consumer: { type: 'string', value: 'NAME', description: 'only this consumer' },
  status: { type: 'string', value: 'pending|retried|skipped|all', description: 'only dead letters in this state (default pending)' },
  json: jsonOption,
};

export const consumerCommands: readonly CommandSpec[] = [
  {
    path: ['consumers', 'dead-letters', 'list'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'list the dead letters of the configured consumers, oldest first (default: the pending ones)',
    options: listOptions,
    run: listDeadLetters,
  },
  {
    path: ['consumers', 'dead-letters', 'retry'],
    arguments: 'ID',
    minArgs: 1,
    maxArgs: 1,
    summary: "run the consumer's current handler on a dead-lettered event again",
    options: {},
    async run(input) {
      const config = await configOf(input);
      const consumers = selectConsumers(config, []);
      return withStore(schemaFor({ config: config.schema }), async (store) => {
        print(await retryConsumerDeadLetterCommand(store, consumers, input.args[0]!));
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['consumers', 'dead-letters', 'skip'],
    arguments: 'ID',
    minArgs: 1,
    maxArgs: 1,
    summary: 'give up on a dead letter: it stays listed as skipped and is never handled',
    options: {},
    async run(input) {
      const config = await configOf(input);
      return withStore(schemaFor({ config: config.schema }), async (store) => {
        print(await skipConsumerDeadLetterCommand(store, input.args[0]!));
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['consumers', 'dead-letters'],
    arguments: '',
    minArgs: 0,
    maxArgs: 0,
    summary: 'the same as consumers dead-letters list',
    options: listOptions,
    run: listDeadLetters,
  },
  {
    path: ['consumers', 'resume'],
    arguments: 'NAME',
    minArgs: 1,
    maxArgs: 1,
    summary: 'let the stopped partitions of a consumer run again (after fixing its handler)',
    options: {},
    async run(input) {
      const config = await configOf(input);
      const consumer = findConsumer(config, input.args[0]!);
      return withStore(schemaFor({ config: config.schema }), async (store) => {
        const resumed = await resumeConsumer(store, consumer.name);
        print(
          resumed === 0
            ? `${consumer.name} has no stopped partitions`
            : `resumed ${resumed} stopped partition(s) of ${consumer.name}; running workers claim them on their next round`,
        );
        return ExitCodes.ok;
      });
    },
  },
  {
    path: ['consumers', 'status'],
    arguments: '[NAME...]',
    minArgs: 0,
    maxArgs: Infinity,
    summary: 'where the configured consumers stand: checkpoint, lag, throughput, retries, dead letters, owner',
    options: { json: jsonOption },
    async run(input) {
      const config = await configOf(input);
      const consumers = selectConsumers(config, input.args);
      return withStore(schemaFor({ config: config.schema }), async (store, { database }) => {
        print(await consumerStatusCommand(store, consumers, { json: input.values.json === true, database }));
        return ExitCodes.ok;
      });
    },
  },
];

async function listDeadLetters(input: CommandInput): Promise<number> {
  const config = await configOf(input);
  const name = text(input, 'consumer');
  const consumers = selectConsumers(config, name === undefined ? [] : [name]);
  const status = choiceOption('--status', text(input, 'status'), deadLetterStatuses) ?? 'pending';
  return withStore(schemaFor({ config: config.schema }), async (store) => {
    print(await listConsumerDeadLettersCommand(store, consumers, { status, json: input.values.json === true }));
    return ExitCodes.ok;
  });
}
