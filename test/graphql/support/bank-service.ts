/**
 * The bank account domain served over GraphQL for the tests of test/graphql: a store in
 * a schema of its own on a pg.Pool whose statements can be counted, the bank mutations
 * and the account projections' parts composed, and the projections to catch up or run.
 * Also the runner of docs/graphql.md's curl examples, which every example domain's
 * tests use.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { catchUpProjections, runProjections, type AnyProjection, type EventStore } from '../../../src/index.js';
import { composeSchema, type ComposedSchema } from '../../../src/graphql/compose-schema.js';
import { bankAccountMutations } from '../../../domain/bank-account/bank-account.graphql.js';
import { accountBalancesGraphQL } from '../../../projections/account-balances/account-balances.graphql.js';
import { accountBalances } from '../../../projections/account-balances/account-balances.projection.js';
import { accountStatementsGraphQL } from '../../../projections/account-statements/account-statements.graphql.js';
import { accountStatements } from '../../../projections/account-statements/account-statements.projection.js';
import { startService } from '../../server/support/http.js';
import { countedStore, StatementLog } from './likes-service.js';

export interface BankService {
  store: EventStore;
  statements: StatementLog;
  /** account-balances and account-statements: what the parts read. */
  projections: AnyProjection[];
  composed: ComposedSchema;
  /** A listening service on port 0, closed when the test ends (call it in a test). */
  start(): Promise<string>;
  catchUp(): Promise<void>;
  /** Runs the projections' workers until the test's `stop()` (call it in a test, in try/finally). */
  runWorkers(): Promise<{ stop(): Promise<void> }>;
}

/** Call at the top level of a test file: it registers the file's clean-up hooks. */
export async function bankService(prefix: string): Promise<BankService> {
  const { store, statements } = await countedStore(prefix, 20);
  const projections = [accountBalances, accountStatements];
  const composed = composeSchema([bankAccountMutations, accountBalancesGraphQL, accountStatementsGraphQL]);
  return {
    store,
    statements,
    projections,
    composed,
    start: async () => (await startService({ store, ...composed })).url,
    catchUp: () => catchUpProjections(store, projections),
    runWorkers: async () => {
      // Woken by the store's append notifications; the poll is only the fallback.
      const runner = runProjections(store, projections, { pollIntervalMs: 5_000 });
      await runner.ready;
      return runner;
    },
  };
}

/** Field selections the bank tests share. */
export const bankDocuments = {
  openAccount: `mutation Open($accountId: ID!, $owner: String!) { openAccount(accountId: $accountId, owner: $owner) { streamId version position balance } }`,
  deposit: `mutation Deposit($accountId: ID!, $amount: Int!) { deposit(accountId: $accountId, amount: $amount) { streamId version position balance } }`,
  withdraw: `mutation Withdraw($accountId: ID!, $amount: Int!) { withdraw(accountId: $accountId, amount: $amount) { streamId version position balance } }`,
  closeAccount: `mutation Close($accountId: ID!) { closeAccount(accountId: $accountId) { version balance } }`,
  account: `query Account($id: ID!, $first: Int, $after: String) {
    account(id: $id) {
      id owner status balance
      statement(first: $first, after: $after) { edges { cursor node { version kind amount balanceAfter } } pageInfo { hasNextPage endCursor } }
    }
  }`,
};

/** What a bank mutation answers with. */
export interface AccountResult {
  streamId: string;
  version: number;
  position: string;
  balance: string;
}

/**
 * The `curl` examples of a section of docs/graphql.md (`### Bank account`), each with the
 * answer the page shows on the `# ` line after it.
 */
export function documentedCurls(page: string, heading: string): { command: string; answer: string }[] {
  const start = page.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/graphql.md has no section ${heading}`);
  const end = page.indexOf('\n### ', start + heading.length + 2);
  const section = page.slice(start, end < 0 ? undefined : end);
  const examples: { command: string; answer: string }[] = [];
  for (const [, block] of section.matchAll(/```sh\n([\s\S]*?)\n```/g)) {
    const lines = block!.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('curl ')) continue;
      const command: string[] = [lines[i]!];
      while (command.at(-1)!.endsWith('\\')) command.push(lines[++i]!);
      const answer = lines[i + 1];
      if (!answer?.startsWith('# ')) throw new Error(`no answer shown after: ${command.join('\n')}`);
      examples.push({ command: command.join('\n'), answer: answer.slice(2) });
    }
  }
  return examples;
}

/**
 * Runs documented curl commands in order against `url` with the real curl, and returns
 * what each printed, positions written as the page wrote them: a position the page shows
 * in an answer stands for the one the service gave, in the answer and in later commands'
 * Annals-Min-Position.
 */
export async function runDocumentedCurls(url: string, examples: readonly { command: string; answer: string }[]): Promise<string[]> {
  const run = promisify(execFile);
  const positions = new Map<string, string>();
  const printed: string[] = [];
  for (const { command, answer } of examples) {
    let actual = command.replaceAll('localhost:4000', new URL(url).host);
    for (const [documented, real] of positions) actual = actual.replaceAll(documented, real);
    const { stdout } = await run('bash', ['-c', actual]);
    let output = stdout.trim();
    const shown = [...answer.matchAll(/"position":"(\d+)"/g)].map((match) => match[1]!);
    const given = [...output.matchAll(/"position":"(\d+)"/g)].map((match) => match[1]!);
    shown.forEach((documented, index) => {
      if (given[index] === undefined) return;
      positions.set(documented, given[index]);
      output = output.replace(`"position":"${given[index]}"`, `"position":"${documented}"`);
    });
    printed.push(output);
  }
  return printed;
}
