import type { EventStore } from '../../event-store/event-store.js';
import type { AnyProjection } from '../../projections/define-projection.js';
import { readProjectionNames } from '../../projections/generations.js';
import { readLiveAndBuilding } from '../../projections/progress-reads.js';
import { projectionStatus, type ProjectionStatus } from '../../projections/status.js';

/**
 * What a status read needs of a projection: its name and the events it reads (a lag is a
 * count of those after its checkpoint). A definition in code has them; so does what the
 * database recorded of a generation.
 */
export type ProjectionScope = Pick<AnyProjection, 'name' | 'eventTypes' | 'categories'>;

/**
 * The projections an operator sees: those given in code (read as their code says, like
 * `annals status`), and every other projection set up in the store's database, read as
 * its live generation (else the one being built) recorded: an API process need not run
 * or even import a projection's code to report on it.
 */
export async function projectionsInStore(store: EventStore, configured: readonly AnyProjection[]): Promise<ProjectionScope[]> {
  const known = new Set(configured.map((projection) => projection.name));
  const found = await store.withTransaction(
    async (tx) => {
      const scopes: ProjectionScope[] = [];
      for (const name of await readProjectionNames(tx)) {
        if (known.has(name)) continue;
        const { live, building } = await readLiveAndBuilding(tx, name);
        const scope = live ?? building;
        // Retired only (its code is gone), or set up before generations recorded their
        // event types (NULL: every type, which a status read cannot ask for).
        if (!scope || scope.eventTypes === null) continue;
        scopes.push({ name, eventTypes: scope.eventTypes, categories: scope.categories ?? undefined });
      }
      return scopes;
    },
    { appends: false },
  );
  return [...configured, ...found];
}

/**
 * projectionStatus over scopes. It reads only a projection's name, event types and
 * categories, so a scope read from the database serves as well as a definition; its
 * parameter asks for whole definitions, hence the cast (which widening that parameter
 * to ProjectionScope would make unnecessary).
 */
export function statusOf(store: EventStore, scopes: readonly ProjectionScope[]): Promise<ProjectionStatus> {
  return projectionStatus(store, scopes as readonly AnyProjection[]);
}
