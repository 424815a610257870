/**
 * Annals' public API, and the example code the figures drive through it (the bank
 * account, the like-counts projection), from the working tree or from another checkout.
 *
 * `annalsRoot` is a directory holding another commit's src/, domain/ and projections/
 * (bench/compare/source-tree.ts extracts one per commit): its domain and projections
 * import 'annals', which resolves to its own src/ through its package.json, so a process
 * that loads them from there runs that commit's Annals throughout. Only the API the
 * figures call has to exist in both versions; the types are the working tree's.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export type AnnalsApi = typeof import('../src/index.js');
export type BankDomain = typeof import('../domain/bank-account/index.js');
export type LikeCountsModule = typeof import('../projections/like-counts/like-counts.projection.js');

/** A module of the checkout at `annalsRoot`, by its path in the repository. */
function importAt<M>(annalsRoot: string, file: string): Promise<M> {
  return import(pathToFileURL(path.join(annalsRoot, file)).href) as Promise<M>;
}

/** `createEventStore`, `handleCommand`, `catchUpProjections`, ... of the working tree or of `annalsRoot`. */
export function loadAnnals(annalsRoot?: string): Promise<AnnalsApi> {
  return annalsRoot === undefined ? import('../src/index.js') : importAt(annalsRoot, 'src/index.ts');
}

/** domain/bank-account, defined with the same version's `defineAggregate`. */
export function loadBankDomain(annalsRoot?: string): Promise<BankDomain> {
  return annalsRoot === undefined ? import('../domain/bank-account/index.js') : importAt(annalsRoot, 'domain/bank-account/index.ts');
}

/** projections/like-counts, defined with the same version's `defineProjection`. */
export function loadLikeCounts(annalsRoot?: string): Promise<LikeCountsModule> {
  return annalsRoot === undefined
    ? import('../projections/like-counts/like-counts.projection.js')
    : importAt(annalsRoot, 'projections/like-counts/like-counts.projection.ts');
}
