import { defaultConfigFiles, loadConfig, type AnnalsConfig } from './config.js';

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
  /** A string option that may be given more than once: the command gets every value, in order (read them with `texts`). */
  multiple?: boolean;
  description: string;
}

/** What a command gets: its flags (parseArgs values) and positional arguments. */
export interface CommandInput {
  values: Record<string, string | boolean | string[] | undefined>;
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
  /** Environment variables the command reads, with what each does, for help (see environmentHelp). */
  environment?: Readonly<Record<string, string>>;
  run(input: CommandInput): Promise<number>;
}

/**
 * The `Environment:` section of a command's help, or '' when it names no variables.
 *
 * @example
 * ```ts
 * environmentHelp({ ...spec, environment: { DATABASE_URL: 'the PostgreSQL database' } });
 * // 'Environment:\n  DATABASE_URL                       the PostgreSQL database'
 * ```
 */
export function environmentHelp(command: Pick<CommandSpec, 'environment'>): string {
  const variables = Object.entries(command.environment ?? {});
  if (variables.length === 0) return '';
  // Padded like the options above it (run-cli.ts' helpText), so the two columns line up.
  return ['Environment:', ...variables.map(([name, description]) => `  ${name.padEnd(34)} ${description}`)].join('\n');
}

/** Options every command takes. */
export const globalOptions: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', value: 'PATH', description: `the config module (default: the first of ${defaultConfigFiles.join(', ')} in the working directory)` },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
};

export const jsonOption: OptionSpec = { type: 'boolean', description: 'print JSON (bigints as strings) instead of a table' };

export const configOf = (input: CommandInput): Promise<AnnalsConfig> => loadConfig(configPath(input));
export const configPath = (input: CommandInput): string | undefined => input.values.config as string | undefined;
export const text = (input: CommandInput, name: string): string | undefined => input.values[name] as string | undefined;
/** Every value of a `multiple` option, in the order given; none when it is absent. */
export const texts = (input: CommandInput, name: string): string[] => (input.values[name] as string[] | undefined) ?? [];
export const print = (output: string) => process.stdout.write(`${output}\n`);
