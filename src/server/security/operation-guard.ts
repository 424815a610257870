/**
 * The GraphQL-level checks, in mercurius' `preExecution` hook: after the document is
 * parsed and validated, before any resolver runs, for every operation (each of a batch,
 * each sent over a websocket).
 *
 * `preExecution` and not `preValidation`: mercurius caches parsed documents and runs
 * `preValidation` only for one it has not seen, so a check there would pass a mutation
 * sent a second time.
 */
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { AccessRefusedError, holdsRole, Roles, type Principal } from '../principal.js';
import { ServiceErrorCodes } from '../service-errors.js';
import { bearerChallenge } from './authenticate.js';
import { operationsToRun, requestedName, unknownName, type RequestedName } from './operations.js';
import { costOfOperations, queryCost, QueryTooComplexError } from './query-cost.js';
import type { Caller, RateLimiters } from './rate-limits.js';
import type { QueryCostOptions } from './security-options.js';

export interface GuardSettings {
  /** Mutations need a principal holding `writer` (false when mutations are open). */
  mutationsNeedWriter: boolean;
  /** Queries need a principal. */
  readsNeedToken: boolean;
  queryCost: Required<QueryCostOptions> | undefined;
  rateLimits: RateLimiters;
}

interface GuardContext {
  principal?: Principal | undefined;
  reply?: { request: Caller['request'] & object; header(name: string, value: string): unknown };
}

/** What the checks need of a document and the operation name sent with it. */
interface Plan {
  operations: OperationDefinitionNode[];
  mutation: boolean;
  read: boolean;
  /** The cost, when no variable's value counted in it. */
  cost: number | undefined;
}

/** The `preExecution` hook. Throws the refusal; mercurius answers with it before anything runs. */
export function operationGuard(settings: GuardSettings) {
  // mercurius keeps a parsed document for each query text it has seen and hands the same
  // one over each time: what depends only on it (and the name) is worked out once.
  const plans = new WeakMap<DocumentNode, Map<RequestedName, Plan>>();
  const planOf = (schema: GraphQLSchema, document: DocumentNode, name: RequestedName, variables: Record<string, unknown> | undefined): Plan => {
    let byName = plans.get(document);
    let plan = byName?.get(name);
    if (plan !== undefined) return plan;
    const operations = operationsToRun(document, name);
    let cost: number | undefined;
    let keep = true;
    if (settings.queryCost && operations.length > 0) {
      const found = costOfOperations(schema, document, operations, { variables, defaultListSize: settings.queryCost.defaultListSize });
      cost = found.cost;
      keep = !found.dependsOnVariables;
    }
    plan = {
      operations,
      // With several that may run (the name unknown), each check applies if it may.
      mutation: operations.some((operation) => operation.operation === 'mutation'),
      read: operations.some((operation) => operation.operation !== 'mutation'),
      cost: keep ? cost : undefined,
    };
    // Only names the document defines are kept (and at most one entry each): a client
    // sending a cached query under ever new names cannot grow the cache. A cost that
    // depends on the variables is kept as undefined, and worked out on every request.
    if (name === unknownName || name === undefined || operations.length > 0) {
      if (byName === undefined) plans.set(document, (byName = new Map()));
      byName.set(name, plan);
    }
    return cost !== undefined && !keep ? { ...plan, cost } : plan;
  };
  // Not async: mercurius awaits what a hook returns, and most operations (no rate limit
  // on them) need no promise of their own. A refusal is thrown; mercurius answers with it.
  return (schema: GraphQLSchema, document: DocumentNode, context: unknown, variables?: Record<string, unknown>): Promise<void> | undefined => {
    const { principal, reply } = context as GuardContext;
    const plan = planOf(schema, document, requestedName(context), variables);
    const { operations, mutation, read } = plan;
    if (operations.length === 0) return; // graphql refuses to pick one: nothing runs
    const caller = (): Caller => ({
      principal,
      request: reply?.request,
      header: (name, value) => void reply?.header(name, value),
    });

    if (mutation && settings.mutationsNeedWriter && !holdsRole(principal, Roles.writer)) {
      throw refusal(principal, caller(), 'a mutation needs a bearer token with the writer role');
    }
    if (read && settings.readsNeedToken && principal === undefined) {
      throw refusal(principal, caller(), 'this service answers queries only with a bearer token');
    }
    if (settings.queryCost) {
      const cost = plan.cost ?? queryCost(schema, document, operations, { variables, defaultListSize: settings.queryCost.defaultListSize });
      if (cost > settings.queryCost.maxCost) throw new QueryTooComplexError(cost, settings.queryCost.maxCost);
    }
    const limiter = mutation ? settings.rateLimits.mutations : settings.rateLimits.queries;
    return limiter?.(caller());
  };
}

/**
 * The cost limit for subscriptions, in mercurius' `preSubscriptionExecution` hook
 * (subscriptions do not pass through `preExecution`): refused with `QUERY_TOO_COMPLEX`
 * before the subscription starts. The hook is told neither the variables nor the
 * operation's name: every subscription operation of the document counts (a check that
 * errs towards refusing), and a page size (`first`, `last`) given by a variable counts
 * as its default value, or as `defaultListSize` without one.
 */
export function subscriptionCostGuard(limit: Required<QueryCostOptions>) {
  return async (schema: GraphQLSchema, document: DocumentNode): Promise<void> => {
    const operations = operationsToRun(document, unknownName).filter((operation) => operation.operation === 'subscription');
    const cost = queryCost(schema, document, operations, { defaultListSize: limit.defaultListSize });
    if (cost > limit.maxCost) throw new QueryTooComplexError(cost, limit.maxCost);
  };
}

/** 401 without a principal (with the challenge of RFC 6750), 403 with one that lacks the role. */
function refusal(principal: Principal | undefined, caller: Caller, reason: string): AccessRefusedError {
  if (principal === undefined) {
    caller.header('www-authenticate', bearerChallenge);
    return new AccessRefusedError(ServiceErrorCodes.unauthenticated, 401, `${reason}; send Authorization: Bearer <token>`);
  }
  return new AccessRefusedError(ServiceErrorCodes.forbidden, 403, `${reason}; '${principal.subject}' has ${describeRoles(principal.roles)}`);
}

function describeRoles(roles: readonly string[]): string {
  return roles.length === 0 ? 'no role' : `only ${roles.map((role) => `'${role}'`).join(', ')}`;
}
