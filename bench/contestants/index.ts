import { databaseUrl, urlForDatabase, type Target } from '../harness.js';
import { AnnalsContestant } from './annals.js';
import { AnnalsSqlContestant } from './annals-sql.js';
import type { Contestant } from './contestant.js';
import { EmmettContestant } from './emmett.js';
import { RawPgContestant } from './raw-pg.js';

export const contestantNames = ['annals', 'raw-pg-annals-sql', 'raw-pg', 'raw-pg-bigserial', 'emmett'] as const;
export type ContestantName = (typeof contestantNames)[number];

/** How each contestant is named in the tables. */
export const contestantLabels: Record<ContestantName, string> = {
  annals: 'Annals',
  'raw-pg-annals-sql': "raw pg, Annals' SQL",
  'raw-pg': 'raw pg, minimal SQL',
  'raw-pg-bigserial': 'raw pg, bigserial (no gap safety)',
  emmett: 'Emmett 0.42',
};

/** Where each contestant keeps its tables: Emmett wants a database of its own. */
export function targetKind(name: ContestantName): 'schema' | 'database' {
  return name === 'emmett' ? 'database' : 'schema';
}

/**
 * Opens `name` on `target`. With `migrate`, its tables are created first (a fresh
 * target); without, it works on tables already there (the read figure's loaded log).
 * `annalsRoot` runs Annals from another checkout (bench/compare); other contestants
 * ignore it.
 */
export async function openContestant(
  name: ContestantName,
  target: Target,
  options: { maxConnections: number; migrate: boolean; annalsRoot?: string },
): Promise<Contestant> {
  if (name === 'emmett') {
    if (!('database' in target)) throw new Error('Emmett needs a database of its own');
    return EmmettContestant.open(urlForDatabase(target.database), options.maxConnections);
  }
  if (!('schema' in target)) throw new Error(`${name} works in a schema`);
  if (name === 'annals') {
    // The Annals migration is idempotent, so it also runs on an already loaded schema.
    return AnnalsContestant.open(databaseUrl, target.schema, { maxConnections: options.maxConnections, annalsRoot: options.annalsRoot });
  }
  if (name === 'raw-pg-annals-sql') {
    return AnnalsSqlContestant.open(databaseUrl, target.schema, { maxConnections: options.maxConnections, migrate: options.migrate });
  }
  return RawPgContestant.open(databaseUrl, target.schema, {
    maxConnections: options.maxConnections,
    mode: name === 'raw-pg' ? 'xid' : 'bigserial',
    migrate: options.migrate,
  });
}
