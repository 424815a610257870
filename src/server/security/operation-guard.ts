/**
 * The GraphQL-level checks, in mercurius' `preExecution` hook: after the document is
 * parsed and validated, before any resolver runs, for every operation (each of a batch,
 * each sent over a websocket).
 *
 * `preExecution` and not `preValidation`: mercurius caches parsed documents and runs
 * `preValidation` only for one it has not seen, so a check there would pass a mutation
 * sent a second time.
 */
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { AccessRefusedError, holdsRole, Roles, type Principal } from '../principal.js';
import { ServiceErrorCodes } from '../service-errors.js';
import { bearerChallenge } from './authenticate.js';
import { operationsToRun, requestedName, unknownName } from './operations.js';
import { queryCost, QueryTooComplexError } from './query-cost.js';
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

/** The `preExecution` hook. Throws the refusal; mercurius answers with it before anything runs. */
export function operationGuard(settings: GuardSettings) {
  return async (schema: GraphQLSchema, document: DocumentNode, context: unknown, variables?: Record<string, unknown>): Promise<void> => {
    const { principal, reply } = context as GuardContext;
    const operations = operationsToRun(document, requestedName(context));
    if (operations.length === 0) return; // graphql refuses to pick one: nothing runs
    // With several that may run (the name unknown), each check applies if it may.
    const mutation = operations.some((operation) => operation.operation === 'mutation');
    const read = operations.some((operation) => operation.operation !== 'mutation');
    const caller: Caller = {
      principal,
      request: reply?.request,
      header: (name, value) => void reply?.header(name, value),
    };

    if (mutation && settings.mutationsNeedWriter && !holdsRole(principal, Roles.writer)) {
      throw refusal(principal, caller, 'a mutation needs a bearer token with the writer role');
    }
    if (read && settings.readsNeedToken && principal === undefined) {
      throw refusal(principal, caller, 'this service answers queries only with a bearer token');
    }
    if (settings.queryCost) {
      const cost = queryCost(schema, document, operations, { variables, defaultListSize: settings.queryCost.defaultListSize });
      if (cost > settings.queryCost.maxCost) throw new QueryTooComplexError(cost, settings.queryCost.maxCost);
    }
    const limiter = mutation ? settings.rateLimits.mutations : settings.rateLimits.queries;
    await limiter?.(caller);
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
