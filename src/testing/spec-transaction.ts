import { randomBytes } from 'node:crypto';
import { quoteIdent } from '../database/quote-ident.js';
import type { EventStore, EventStoreTransaction, RecordedEvent } from '../event-store/event-store.js';
import { applyInLogOrder } from '../projections/apply-in-log-order.js';
import type { AnyProjectedEvent, AnyProjection, ProjectionContext } from '../projections/define-projection.js';
import { projectionContext } from '../projections/projection-context.js';
import { ProjectionSchemaError } from '../errors.js';

/** Events of one step of a spec (given, or when), and whether handlers see them as replayed. */
export interface SpecStep {
  events: readonly RecordedEvent[];
  replaying: boolean;
}

/** The spec's transaction, with the schema its tables are in. */
export interface SpecSession {
  tx: EventStoreTransaction;
  schema: string;
  context: ProjectionContext;
}

/** Thrown at the end of a spec that went well, so its transaction rolls back all the same. */
class SpecFinished extends Error {}

/**
 * Runs `work` in one transaction on `store`, with the projection's tables created in a
 * schema of their own (as a generation's are, by its `schema` function), and rolls the
 * transaction back whatever happens: the schema, its tables and rows go with it, so specs
 * run in parallel and leave nothing behind. The transaction never appends (`appends:
 * false`), so it holds back no reader of the log however long it is open, and it writes no
 * generation, partition or checkpoint row: the runtime's tables are not touched.
 */
export async function inSpecTransaction<T>(store: EventStore, projection: AnyProjection, work: (session: SpecSession) => Promise<T>): Promise<T> {
  // Random: two specs of one projection may run at once, each in its own transaction.
  const schema = `annals_spec_${randomBytes(8).toString('hex')}`;
  let result: { value: T } | undefined;
  try {
    await store.withTransaction(
      async (tx) => {
        await tx.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
        const context = await projectionContext(tx, schema, { replaying: false, generation: 1, partition: 0 });
        try {
          await projection.definition.schema(context.db);
        } catch (error) {
          // As a worker reports it (generations.ts): the spec's failure names the projection.
          throw new ProjectionSchemaError({ projection: projection.name, version: projection.version, generation: 1 }, error);
        }
        result = { value: await work({ tx, schema, context }) };
        throw new SpecFinished();
      },
      { appends: false },
    );
  } catch (error) {
    if (!(error instanceof SpecFinished)) throw error;
  }
  return result!.value;
}

/**
 * Applies one step's events as a worker applies a batch: decoded by the projection (its
 * schemas and upcasters; an EventSchemaError otherwise), then, partition by partition,
 * through applyInLogOrder with the context's `partition` set. Workers give no order
 * across partitions; here partition 0 goes first, then 1, and so on.
 */
export async function applySpecStep(projection: AnyProjection, context: ProjectionContext, step: SpecStep): Promise<void> {
  const decoded = step.events.map((event) => projection.decode(event) as AnyProjectedEvent);
  const byPartition = new Map<number, AnyProjectedEvent[]>();
  for (const event of decoded) {
    const partition = projection.partitionOf(event);
    const events = byPartition.get(partition) ?? [];
    events.push(event);
    byPartition.set(partition, events);
  }
  for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
    await applyInLogOrder(projection, byPartition.get(partition)!, () => step.replaying, { ...context, partition });
  }
}
