/**
 * An aggregate's commands as mutations: arguments derived from each command's zod
 * schema (mutationFor), a resolver that sends the command through handleCommand (which
 * parses it with zod: the single validation), and a result every mutation shares.
 */
import { handleCommand, type CommandResult } from '../aggregates/handle-command.js';
import type { AnyAggregate, CommandInput, CommandsOf, StateOf } from '../aggregates/define-aggregate.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { toIssues } from '../validation.js';
import { graphqlPart, type GraphQLPart } from './graphql-part.js';
import type { ReadContext } from './read-model.js';
import { mergeTypeDefs, mutationFor, type CommandMutation, type CommandMutationOptions } from './zod-to-graphql.js';

/** What every mutation returns at least; defined once by composeSchema. */
export const commandResultTypeDefs = `"""What a mutation did: the stream it appended to, the stream's version after it, and where its last event is in the log."""
type CommandResult {
  streamId: ID!
  version: Int!
  """Global position of the mutation's last event, as a string (positions pass 2^53): the consistency token to read your writes with."""
  position: String!
}`;

/** One command as a mutation. */
export interface MutationSpec extends Omit<CommandMutationOptions, 'command' | 'aggregateId'> {
  /** The mutation's name (`likePost`). */
  name: string;
  /** The argument carrying the aggregate's id: a field of the command's data (`postId`), or an extra `ID!` argument (`accountId`). */
  aggregateId: string;
  /** The mutation's description in the schema. */
  description?: string;
  /**
   * The type it returns (default `CommandResult`). A type of yours must have
   * `streamId`, `version` and `position`; its other fields' resolvers get the
   * {@link MutationOutcome} as parent (`balance: (outcome) => outcome.state.balance`).
   */
  returns?: string;
}

/** The commands of aggregate `A` exposed as mutations, by command type. */
export type MutationSpecs<A extends AnyAggregate> = { readonly [Command in keyof CommandsOf<A> & string]?: MutationSpec };

/** What a mutation's resolver returns: the result's fields and, for types of your own, the rest. */
export interface MutationOutcome<A extends AnyAggregate = AnyAggregate> {
  streamId: string;
  version: number;
  position: string;
  state: StateOf<A>;
  events: CommandResult<A>['events'];
}

/** What a mutation needs from the context; the service's context has it all. */
export interface MutationContext extends ReadContext {
  /** Stamped on the events appended as their correlation id. */
  readonly correlationId?: string;
  /** Stamped on the events appended as their causation id: the request that caused them. */
  readonly requestId?: string;
  /** Told how many events a mutation appended to a stream of `category` (the service's metrics count them). */
  readonly eventsAppended?: (category: string, count: number) => void;
}

/**
 * The part exposing `aggregate`'s commands as mutations. Each resolver sends its command
 * with the request's ids (`correlationId`, `causationId: requestId`) and answers with
 * `streamId`, `version` and `position`. Input errors name the argument
 * (`extensions.issues: [{ field: 'postId', ... }]`), domain errors keep their codes.
 *
 * @throws GraphQLSchemaError when a command cannot be a mutation (mutationFor's rules);
 * ValidationError when `specs` is empty or names a command the aggregate lacks.
 *
 * @example
 * ```ts
 * export const likeMutations = commandMutations(postLikes, {
 *   LikePost: { name: 'likePost', aggregateId: 'postId' },
 *   UnlikePost: { name: 'unlikePost', aggregateId: 'postId' },
 * });
 * ```
 */
export function commandMutations<A extends AnyAggregate>(aggregate: A, specs: MutationSpecs<A>): GraphQLPart {
  const entries = Object.entries(specs).filter((entry): entry is [string, MutationSpec] => entry[1] !== undefined);
  const field = `commandMutations(${aggregate.category})`;
  if (entries.length === 0) throw new ValidationError([{ field, reason: 'names no command: give at least one' }]);
  const fields: string[] = [];
  const mutations: CommandMutation<unknown>[] = [];
  const resolvers: Record<string, (root: unknown, args: Record<string, unknown>, context: MutationContext) => Promise<MutationOutcome<A>>> = {};
  for (const [command, spec] of entries) {
    if (!Object.hasOwn(aggregate.commands, command)) {
      throw new ValidationError([{ field: `${field}.${command}`, reason: `is not a command of ${aggregate.category}: ${Object.keys(aggregate.commands).join(', ')}` }]);
    }
    const { name, aggregateId, description, returns = 'CommandResult', ...options } = spec;
    const mutation = mutationFor(name, aggregate.commands[command], { ...options, command, aggregateId });
    mutations.push(mutation);
    fields.push(`${description === undefined ? '' : `  ${JSON.stringify(description)}\n`}  ${mutation.signature}: ${returns}!`);
    resolvers[name] = (_root, args, context) => runMutation(aggregate, command, mutation, { args, context, idArgument: aggregateId });
  }
  const typeDefs = [mergeTypeDefs(mutations), `extend type Mutation {\n${fields.join('\n')}\n}`].filter((sdl) => sdl !== '').join('\n\n');
  return graphqlPart({ name: `mutations of ${aggregate.category}`, typeDefs, resolvers: { Mutation: resolvers } });
}

interface MutationCall {
  args: Record<string, unknown>;
  context: MutationContext;
  idArgument: string;
}

async function runMutation<A extends AnyAggregate>(aggregate: A, command: string, mutation: CommandMutation<unknown>, call: MutationCall): Promise<MutationOutcome<A>> {
  const { context } = call;
  const { aggregateId, data } = mutation.toCommand(call.args);
  const input = { type: command, data } as CommandInput<CommandsOf<A>>;
  if (!aggregateId) throw emptyId(aggregate, input, call.idArgument);
  let result: CommandResult<A>;
  try {
    result = await handleCommand(context.store, aggregate, aggregateId, input, {
      ...(context.correlationId ? { correlationId: context.correlationId } : {}),
      ...(context.requestId ? { causationId: context.requestId } : {}),
    });
  } catch (error) {
    throw error instanceof ValidationError ? new ValidationError(error.issues.map(asArgumentIssue)) : error;
  }
  if (result.globalPosition !== null) context.eventsAppended?.(aggregate.category, result.events.length);
  // A command that decided nothing appended nothing: the head is a token at least as
  // recent as the state it decided on.
  const position = result.globalPosition ?? (await context.store.headPosition());
  return {
    streamId: aggregate.streamId(aggregateId),
    version: result.nextExpectedVersion,
    position: String(position),
    state: result.state,
    events: result.events,
  };
}

/**
 * handleCommand names fields by their place in the command (`command.data.postId`); a
 * client sent arguments, and the arguments are the data's fields (`postId`).
 */
function asArgumentIssue(issue: ValidationIssue): ValidationIssue {
  if (issue.field === 'command.data') return { ...issue, field: '' };
  return issue.field.startsWith('command.data') ? { ...issue, field: issue.field.slice('command.data'.length).replace(/^\./, '') } : issue;
}

/** An empty id argument, with whatever else is wrong with the arguments. */
function emptyId(aggregate: AnyAggregate, input: unknown, idArgument: string): ValidationError {
  const parsed = aggregate.commandSchema.safeParse(input);
  const issues = parsed.success ? [] : toIssues(parsed.error, 'command').map(asArgumentIssue);
  if (!issues.some((issue) => issue.field === idArgument)) issues.unshift({ field: idArgument, reason: 'must not be empty' });
  return new ValidationError(issues);
}
