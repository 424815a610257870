import { defaultConfigFile, loadConfig, type AnnalsConfig } from './config.js';

/**
 * What every command of the `annals` command is made of (its spec, its input) and the
 * helpers the command files share: loading the config, reading a flag, printing. Apart
 * from commands.ts so that a family of commands (consumer-commands.ts) can have a file of
 * its own without importing the list it is part of.
 */

/** An option as parseArgs takes it, with what help says about it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's name in help (`--from POSITION`). */
  value?: string;
  description: string;
}

/** What a command gets: its flags (parseArgs values) and positional arguments. */
export interface CommandInput {
  values: Record<string, string | boolean | undefined>;
  args: string[];
}

export interface CommandSpec {
  /** The words that name it: `['projections', 'run']`. */
  path: readonly string[];
  /** Positional arguments, for help: `[NAME...]`. */
  arguments: string;
  minArgs: number;
  maxArgs: number;
  summary: string;
  options: Readonly<Record<string, OptionSpec>>;
  run(input: CommandInput): Promise<number>;
}

/** Options every command takes. */
export const globalOptions: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', value: 'PATH', description: `the config module (default ./${defaultConfigFile})` },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
};

export const jsonOption: OptionSpec = { type: 'boolean', description: 'print JSON (bigints as strings) instead of a table' };

export const configOf = (input: CommandInput): Promise<AnnalsConfig> => loadConfig(configPath(input));
export const configPath = (input: CommandInput): string => (input.values.config as string | undefined) ?? defaultConfigFile;
export const text = (input: CommandInput, name: string): string | undefined => input.values[name] as string | undefined;
export const print = (output: string) => process.stdout.write(`${output}\n`);
