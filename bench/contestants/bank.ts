import { databaseUrl, urlForDatabase, type Target } from '../harness.js';
import { AnnalsBank } from './annals-bank.js';
import type { BankContestant } from './bank-contestant.js';
import { EmmettBank } from './emmett-bank.js';

/**
 * The contestants of the command and load-time figures. The target is checked for
 * `annals` (the default) and `annals-cached` (its state cache on), each against `emmett`;
 * the others are informative: what Annals does without its snapshots, and what Emmett
 * does when asked to retry conflicts.
 */
export const bankContestantNames = ['annals', 'annals-cached', 'annals-no-snapshots', 'emmett', 'emmett-retry'] as const;
export type BankContestantName = (typeof bankContestantNames)[number];

/** How each contestant is named in the tables. */
export const bankContestantLabels: Record<BankContestantName, string> = {
  annals: 'Annals',
  'annals-cached': 'Annals, state cache',
  'annals-no-snapshots': 'Annals, no snapshots',
  emmett: 'Emmett 0.42',
  'emmett-retry': 'Emmett 0.42, retry on conflict',
};

/** Where each contestant keeps its tables: Emmett wants a database of its own. */
export function bankTargetKind(name: BankContestantName): 'schema' | 'database' {
  return name.startsWith('emmett') ? 'database' : 'schema';
}

/**
 * Opens `name` on `target`, creating its tables if they are not there yet. `annalsRoot`
 * runs Annals from another checkout (bench/compare); Emmett ignores it.
 */
export async function openBankContestant(name: BankContestantName, target: Target, maxConnections: number, annalsRoot?: string): Promise<BankContestant> {
  if (name === 'emmett' || name === 'emmett-retry') {
    if (!('database' in target)) throw new Error('Emmett needs a database of its own');
    return EmmettBank.open(urlForDatabase(target.database), { maxConnections, retryOnConflict: name === 'emmett-retry' });
  }
  if (!('schema' in target)) throw new Error(`${name} works in a schema`);
  const variant = name === 'annals-cached' ? 'cached' : name === 'annals' ? 'snapshots' : 'no-snapshots';
  return AnnalsBank.open(databaseUrl, target.schema, { maxConnections, variant, annalsRoot });
}
