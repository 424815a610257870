/**
 * The cost of a query before it runs: an upper bound on the fields it can resolve. The
 * depth limit alone lets a shallow query ask for a page of 100 posts, each with a page of
 * 100 likers, each with a page of 100 posts: a million rows from eight levels. The cost
 * counts what that would be and refuses it, while a deep query of single objects passes.
 *
 * - every field costs 1 (`__typename` and introspection nothing);
 * - a field with a `first` or `last` argument costs 1 plus that many times its selection:
 *   the list directly inside it (a connection's `edges` or `nodes`) is that page, not
 *   another multiplication;
 * - any other list costs 1 plus `defaultListSize` times its selection;
 * - fragments count as if all of them applied (an upper bound for unions and interfaces);
 *   `@skip` and `@include` are honoured.
 */
import type {
  ArgumentNode,
  DirectiveNode,
  DocumentNode,
  FragmentDefinitionNode,
  GraphQLField,
  GraphQLNamedType,
  GraphQLOutputType,
  GraphQLSchema,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
} from 'graphql';
import { RequestRefusedError, ServiceErrorCodes } from '../service-errors.js';

/**
 * The code of a query over `queryCost.maxCost`. Declared here until ServiceErrorCodes
 * (service-errors.ts) lists it as `queryTooComplex`, the one place codes are declared.
 */
const queryTooComplexCode = ServiceErrorCodes.queryTooComplex;

/** A query over `security.queryCost.maxCost`: 400 `QUERY_TOO_COMPLEX`, refused before anything ran. */
export class QueryTooComplexError extends RequestRefusedError {
  readonly cost: number;
  readonly maxCost: number;

  constructor(cost: number, maxCost: number) {
    super(
      queryTooComplexCode,
      400,
      `the query may resolve up to ${cost} fields, more than the ${maxCost} allowed: ask for smaller pages (first) or fewer nested lists`,
    );
    this.cost = cost;
    this.maxCost = maxCost;
  }

  /** Read by mercurius where no error formatter runs (a subscription refused over a websocket), as AccessRefusedError's. */
  get extensions(): { code: string } {
    return { code: this.code };
  }
}

interface Walk {
  schema: GraphQLSchema;
  fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  variables: Readonly<Record<string, unknown>>;
  defaultListSize: number;
  /** Set once a variable's value counted: the cost then holds for these variables only. */
  readVariables: boolean;
}

/** The cost of the most expensive of `operations` (the ones that may run). */
export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operations: readonly OperationDefinitionNode[],
  options: { variables?: Readonly<Record<string, unknown>> | undefined; defaultListSize: number },
): number {
  return costOfOperations(schema, document, operations, options).cost;
}

/**
 * Like queryCost, and whether a variable's value counted in it (a page size or an
 * `@include` given by a variable): when none did, the cost is the document's whatever the
 * variables, and can be kept with the document.
 */
export function costOfOperations(
  schema: GraphQLSchema,
  document: DocumentNode,
  operations: readonly OperationDefinitionNode[],
  options: { variables?: Readonly<Record<string, unknown>> | undefined; defaultListSize: number },
): { cost: number; dependsOnVariables: boolean } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === 'FragmentDefinition') fragments.set(definition.name.value, definition);
  let highest = 0;
  let dependsOnVariables = false;
  for (const operation of operations) {
    const root = operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
    if (!root) continue;
    const walk: Walk = { schema, fragments, variables: withDefaults(operation, options.variables ?? {}), defaultListSize: options.defaultListSize, readVariables: false };
    highest = Math.max(highest, selectionCost(walk, operation.selectionSet, root, false));
    dependsOnVariables ||= walk.readVariables;
  }
  return { cost: highest, dependsOnVariables };
}

/** The variables as given, and the operation's defaults for those not given. */
function withDefaults(operation: OperationDefinitionNode, variables: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const values: Record<string, unknown> = { ...variables };
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (values[name] === undefined && definition.defaultValue) values[name] = literal(definition.defaultValue, undefined);
  }
  return values;
}

/**
 * `inPage`: this selection is a page's (its field had `first` or `last`), so a list in it
 * is the page itself and is not multiplied again.
 */
function selectionCost(walk: Walk, selectionSet: SelectionSetNode, parent: GraphQLNamedType, inPage: boolean): number {
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (skipped(selection.directives, walk)) continue;
    if (selection.kind === 'Field') {
      if (selection.name.value.startsWith('__')) continue;
      const field = fieldsOf(parent)?.[selection.name.value];
      // Validation ran first: a field the type lacks is not here. Counted as a leaf if it were.
      if (field === undefined) {
        cost += 1;
        continue;
      }
      cost += fieldCost(walk, selection.arguments ?? [], selection.selectionSet, field, inPage);
    } else {
      const fragment = selection.kind === 'InlineFragment' ? selection : walk.fragments.get(selection.name.value);
      if (fragment === undefined) continue;
      const condition = fragment.typeCondition ? walk.schema.getType(fragment.typeCondition.name.value) : parent;
      if (condition) cost += selectionCost(walk, fragment.selectionSet, condition, inPage);
    }
  }
  return cost;
}

function fieldCost(
  walk: Walk,
  args: readonly ArgumentNode[],
  selectionSet: SelectionSetNode | undefined,
  field: GraphQLField<unknown, unknown>,
  inPage: boolean,
): number {
  const { named, list } = unwrap(field.type);
  const page = pageSize(args, walk);
  if (!selectionSet) return 1;
  if (page !== undefined) return 1 + page * selectionCost(walk, selectionSet, named, true);
  if (list && !inPage) return 1 + walk.defaultListSize * selectionCost(walk, selectionSet, named, false);
  return 1 + selectionCost(walk, selectionSet, named, false);
}

/** `first` or `last`, when given as an integer (the larger when both): the page's size. */
function pageSize(args: readonly ArgumentNode[], walk: Walk): number | undefined {
  let size: number | undefined;
  for (const arg of args) {
    if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
    const value = literal(arg.value, walk);
    if (typeof value === 'number' && Number.isInteger(value)) size = Math.max(size ?? 0, value, 0);
  }
  return size;
}

function skipped(directives: readonly DirectiveNode[] | undefined, walk: Walk): boolean {
  for (const directive of directives ?? []) {
    const condition = directive.arguments?.find((arg) => arg.name.value === 'if');
    if (!condition) continue;
    const value = literal(condition.value, walk);
    if (directive.name.value === 'skip' && value === true) return true;
    if (directive.name.value === 'include' && value === false) return true;
  }
  return false;
}

/**
 * The value of an argument: its literal, or its variable's value (none in a default
 * value, which is a constant). Only what the cost reads (ints, booleans).
 */
function literal(node: ValueNode, walk: Walk | undefined): unknown {
  switch (node.kind) {
    case 'Variable':
      if (walk === undefined) return undefined;
      walk.readVariables = true;
      return walk.variables[node.name.value];
    case 'IntValue':
      return Number.parseInt(node.value, 10);
    case 'BooleanValue':
      return node.value;
    default:
      return undefined;
  }
}

/**
 * The named type under a field's wrappers, and whether a list is among them. By the
 * wrappers' tags, not graphql's `isListType`: the schema may come from graphql's other
 * build (graphql-realm.ts), whose classes `instanceof` does not recognise.
 */
function unwrap(type: GraphQLOutputType): { named: GraphQLNamedType; list: boolean } {
  let current: unknown = type;
  let list = false;
  while (tagOf(current) === 'GraphQLList' || tagOf(current) === 'GraphQLNonNull') {
    if (tagOf(current) === 'GraphQLList') list = true;
    current = (current as { ofType: unknown }).ofType;
  }
  return { named: current as GraphQLNamedType, list };
}

function tagOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

function fieldsOf(type: GraphQLNamedType): Record<string, GraphQLField<unknown, unknown>> | undefined {
  const getFields = (type as { getFields?: () => Record<string, GraphQLField<unknown, unknown>> }).getFields;
  // Input types have getFields too, but a selection never reaches one.
  return typeof getFields === 'function' ? getFields.call(type) : undefined;
}
