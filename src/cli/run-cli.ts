import { parseArgs } from 'node:util';
import { AnnalsError, DeadLetterError, UnknownProjectionError, ValidationError } from '../index.js';
import { environmentHelp } from './command-spec.js';
import { commands, globalOptions, type CommandInput, type CommandSpec, type OptionSpec } from './commands.js';
import { ExitCodes, UsageError } from './usage-error.js';

type ParseOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

const toParseOptions = (...specs: Readonly<Record<string, OptionSpec>>[]): ParseOptions =>
  Object.fromEntries(
    specs.flatMap((spec) => Object.entries(spec)).map(([name, { type, short, multiple }]) => [name, { type, ...(short ? { short } : {}), ...(multiple ? { multiple } : {}) }]),
  );

/**
 * Runs `annals` with `argv` (without node and the script) and resolves to the exit
 * code. User errors are one line on stderr and exit code 2; see docs/cli.md.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(['status', '--json']);
 * ```
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    const { command, values, args } = parseCommandLine(argv);
    if (values.help === true || command === undefined) {
      process.stdout.write(`${helpText(command)}\n`);
      return ExitCodes.ok;
    }
    return await command.run({ values, args });
  } catch (error) {
    const { message, code } = describeFailure(error);
    process.stderr.write(`annals: ${message}\n`);
    if (code === ExitCodes.failed && process.env.ANNALS_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return code;
  }
}

/**
 * The command `argv` names, its flags and its positional arguments. Options may come
 * before or after the command's words. `command` is undefined for `annals --help` and
 * `annals help`.
 *
 * @throws UsageError for an unknown command or option, a missing value or argument.
 */
export function parseCommandLine(argv: readonly string[]): {
  command: CommandSpec | undefined;
  values: CommandInput['values'];
  args: string[];
} {
  // First pass, lenient: which words are positional (options that take a value are known).
  const everyOption = toParseOptions(globalOptions, ...commands.map((c) => c.options));
  const loose = guard(() => parseArgs({ args: [...argv], options: everyOption, allowPositionals: true, strict: false }));
  const words = loose.positionals;
  const asksHelp = words[0] === 'help' || loose.values.help === true;
  const named = words[0] === 'help' ? words.slice(1) : words;
  if (asksHelp) {
    // Help for a command when the words name one, else the list of commands.
    let command: CommandSpec | undefined;
    try {
      command = named.length > 0 ? findCommand(named) : undefined;
    } catch {
      command = undefined;
    }
    return { command, values: { help: true }, args: [] };
  }
  if (words.length === 0) throw new UsageError('no command given; see annals --help');
  const command = findCommand(words);
  // Second pass, strict, with this command's options only.
  const strict = guard(() =>
    parseArgs({ args: [...argv], options: toParseOptions(globalOptions, command.options), allowPositionals: true, strict: true }),
  );
  const args = strict.positionals.slice(command.path.length);
  const values = strict.values as CommandInput['values'];
  const name = `annals ${command.path.join(' ')}`;
  if (args.length < command.minArgs) throw new UsageError(`${name} needs ${command.arguments}; see ${name} --help`);
  if (args.length > command.maxArgs) throw new UsageError(`unexpected argument '${args[command.maxArgs]}' for ${name}; see ${name} --help`);
  return { command, values, args };
}

/** The command named by the longest run of leading `words`. @throws UsageError */
function findCommand(words: readonly string[]): CommandSpec {
  let best: CommandSpec | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, index) => words[index] === word);
    if (matches && (!best || command.path.length > best.path.length)) best = command;
  }
  if (best) return best;
  // Name the first word that is wrong, and what could come there.
  const depth = [1, 2, 3].find((n) => !commands.some((c) => c.path.slice(0, n).every((word, index) => words[index] === word))) ?? 1;
  const prefix = words.slice(0, depth - 1);
  const choices = [...new Set(commands.filter((c) => prefix.every((word, index) => c.path[index] === word)).map((c) => c.path[depth - 1]))].filter(
    (word): word is string => word !== undefined,
  );
  const unknown = words.slice(0, depth).join(' ');
  throw new UsageError(`unknown command '${unknown}' (expected ${choices.join(', ')}); see annals --help`);
}

/** parseArgs' errors as usage errors, with its message cut to the first sentence. */
function guard<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(error.message.split('\n')[0]!.split('. ')[0]!.replace(/\.$/, ''));
    }
    throw error;
  }
}

/**
 * The line to print and the exit code for an error a command threw. Bad input, a
 * malformed or (in production) missing DATABASE_URL among it (a ValidationError naming
 * it), exits 2; an AnnalsError (a database it cannot connect to, a schema not migrated)
 * exits 1 with its message, which says what to do.
 */
function describeFailure(error: unknown): { message: string; code: number } {
  if (error instanceof UsageError) return { message: error.message, code: ExitCodes.usage };
  if (error instanceof UnknownProjectionError || error instanceof ValidationError) return { message: error.message, code: ExitCodes.usage };
  // An unknown or resolved id is bad input; a handler failing again is a failure (it has a cause).
  if (error instanceof DeadLetterError) return { message: error.message, code: error.cause === undefined ? ExitCodes.usage : ExitCodes.failed };
  if (error instanceof AnnalsError) return { message: error.message, code: ExitCodes.failed };
  return { message: error instanceof Error ? error.message : String(error), code: ExitCodes.failed };
}

/** Help: the list of commands, or one command's usage and options. */
export function helpText(command?: CommandSpec): string {
  const option = (name: string, spec: OptionSpec) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return `  ${flag.padEnd(34)} ${spec.description}`;
  };
  if (command) {
    const usage = ['annals', ...command.path, command.arguments, '[options]'].filter(Boolean).join(' ');
    const own = Object.entries(command.options).map(([name, spec]) => option(name, spec));
    const global = Object.entries(globalOptions).map(([name, spec]) => option(name, spec));
    const environment = environmentHelp(command);
    return [
      `Usage: ${usage}`,
      '',
      command.summary,
      '',
      ...(own.length ? ['Options:', ...own, ''] : []),
      'Global options:',
      ...global,
      ...(environment ? ['', environment] : []),
    ].join('\n');
  }
  const lines = commands.map((c) => `  ${[...c.path, c.arguments].filter(Boolean).join(' ').padEnd(34)} ${c.summary}`);
  return [
    'Usage: annals <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Global options:',
    ...Object.entries(globalOptions).map(([name, spec]) => option(name, spec)),
    '',
    'The database is DATABASE_URL (postgres://...), else an embedded PGlite in ANNALS_DATA_DIR (default ./.annals-data;',
    'with NODE_ENV=production only when ANNALS_DATA_DIR is set). See docs/configuration.md.',
    'Run annals <command> --help for its options; docs/cli.md has examples.',
  ].join('\n');
}
