import { z } from 'zod';
import type { AnyAggregate } from '../aggregates/define-aggregate.js';
import type { Consumer } from '../consumers/define-consumer.js';
import type { Outbox } from '../outbox/define-outbox.js';
import type { Retention } from '../retention/define-retention.js';
import type { AnyProjection } from '../projections/define-projection.js';
import { schemaNameSchema } from '../database/schema-name.js';
import { UnknownProjectionError } from '../errors.js';
import { UsageError } from './usage-error.js';
import { findConfigFile, importConfigModule } from './config-module.js';
import type { AnnalsConfig } from '../annals-config.js';

export type { AnnalsConfig } from '../annals-config.js';

export { defaultConfigFiles } from './config-module.js';

const isProjection = (value: unknown): value is AnyProjection =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AnyProjection).name === 'string' &&
  typeof (value as AnyProjection).decode === 'function' &&
  typeof (value as AnyProjection).definition === 'object';

const isConsumer = (value: unknown): value is Consumer =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Consumer).name === 'string' &&
  typeof (value as Consumer).mode === 'string' &&
  typeof (value as Consumer).definition?.handle === 'function';

const isOutbox = (value: unknown): value is Outbox =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Outbox).name === 'string' &&
  typeof (value as Outbox).consumerName === 'string' &&
  (value as Outbox).destinations instanceof Map &&
  typeof (value as Outbox).close === 'function';

const isAggregate = (value: unknown): value is AnyAggregate =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AnyAggregate).category === 'string' &&
  typeof (value as AnyAggregate).eventCodec === 'object' &&
  typeof (value as AnyAggregate).decide === 'function';

const configSchema = z.object({
  schema: schemaNameSchema.optional(),
  aggregates: z
    .array(z.custom<AnyAggregate>(isAggregate, { error: 'must be an aggregate made with defineAggregate' }), { error: 'must be an array of aggregates' })
    .optional(),
  projections: z.array(z.custom<AnyProjection>(isProjection, { error: 'must be a projection made with defineProjection' }), {
    error: 'must be an array of projections',
  }),
  inline: z.array(z.string()).optional(),
  consumers: z
    .array(z.custom<Consumer>(isConsumer, { error: 'must be a consumer made with defineConsumer' }), { error: 'must be an array of consumers' })
    .optional(),
  outboxes: z
    .array(z.custom<Outbox>(isOutbox, { error: 'must be an outbox made with defineOutbox (annals/outbox)' }), { error: 'must be an array of outboxes' })
    .optional(),
  retention: z
    .custom<Retention>((value) => (value as Retention | null)?.kind === 'retention', { error: 'must be a policy made with defineRetention' })
    .optional(),
  service: z
    .object({
      parts: z.array(
        z.custom<{ name: string; typeDefs: string }>(
          (value) => typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string' && typeof (value as { typeDefs?: unknown }).typeDefs === 'string',
          { error: 'must be a GraphQL part made with graphqlPart or commandMutations (annals/server)' },
        ),
        { error: 'must be an array of GraphQL parts' },
      ),
      options: z.record(z.string(), z.unknown(), { error: "must be an object of createService's options" }).optional(),
    })
    .optional(),
});

/**
 * Loads the config module at `path` (relative to the working directory), or without a
 * path the first of `defaultConfigFiles` there: a `.js`/`.mjs` config on plain Node, a
 * `.ts`/`.mts` one through tsx (config-module.ts).
 *
 * @throws UsageError when the file is missing, does not load, or its default export is malformed.
 */
export async function loadConfig(path?: string): Promise<AnnalsConfig> {
  const file = await findConfigFile(path);
  const module = await importConfigModule(file);
  const parsed = configSchema.safeParse(module.default);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const where = issue?.path.length ? issue.path.join('.') : 'default export';
    throw new UsageError(`config file ${file}: ${where}: ${issue?.message ?? 'must be { projections: [...] }'}`);
  }
  const config = parsed.data;
  const names = config.projections.map((p) => p.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) throw new UsageError(`config file ${file}: projection '${twice}' is listed twice`);
  // One name, one consumer of the log, whatever its kind: the store refuses the second.
  const consumerNames = (config.consumers ?? []).map((c) => c.name);
  const clash = consumerNames.find((name, index) => consumerNames.indexOf(name) !== index || names.includes(name));
  if (clash !== undefined) {
    throw new UsageError(`config file ${file}: consumer '${clash}' is listed twice${names.includes(clash) ? ' (as a projection too)' : ''}`);
  }
  const outboxNames = (config.outboxes ?? []).map((o) => o.name);
  const outboxTwice = outboxNames.find((name, index) => outboxNames.indexOf(name) !== index);
  if (outboxTwice !== undefined) throw new UsageError(`config file ${file}: outbox '${outboxTwice}' is listed twice`);
  const unknownInline = config.inline?.find((name) => !names.includes(name));
  if (unknownInline !== undefined) throw new UsageError(`config file ${file}: inline names '${unknownInline}', which no projection is called`);
  return config;
}

/**
 * The configured projections called `names`, in that order; all of them when `names` is empty.
 *
 * @throws UnknownProjectionError naming the first name the config does not have.
 */
export function selectProjections(config: AnnalsConfig, names: readonly string[]): AnyProjection[] {
  if (names.length === 0) return config.projections;
  return names.map((name) => findProjection(config, name));
}

/** The configured projection called `name`. @throws UnknownProjectionError */
export function findProjection(config: AnnalsConfig, name: string): AnyProjection {
  const projection = config.projections.find((p) => p.name === name);
  if (!projection) throw new UnknownProjectionError(name, config.projections.map((p) => p.name));
  return projection;
}

/**
 * The configured consumers called `names`, in that order; all of them when `names` is empty.
 *
 * @throws UsageError when the config lists no consumers, or naming the first name it does not have.
 */
export function selectConsumers(config: AnnalsConfig, names: readonly string[]): Consumer[] {
  const consumers = config.consumers ?? [];
  if (consumers.length === 0) throw new UsageError('the config lists no consumers (add consumers: [...] to its default export)');
  if (names.length === 0) return consumers;
  return names.map((name) => findConsumer(config, name));
}

/** The configured consumer called `name`. @throws UsageError */
export function findConsumer(config: AnnalsConfig, name: string): Consumer {
  const consumers = config.consumers ?? [];
  const consumer = consumers.find((c) => c.name === name);
  if (!consumer) throw new UsageError(`no consumer named '${name}' (known: ${consumers.map((c) => c.name).join(', ') || 'none'})`);
  return consumer;
}

/**
 * The configured outboxes called `names`, in that order; all of them when `names` is empty.
 *
 * @throws UsageError when the config lists no outboxes, or naming the first name it does not have.
 */
export function selectOutboxes(config: AnnalsConfig, names: readonly string[]): Outbox[] {
  const outboxes = config.outboxes ?? [];
  if (outboxes.length === 0) throw new UsageError('the config lists no outboxes (add outboxes: [...] to its default export, docs/outbox.md)');
  if (names.length === 0) return outboxes;
  return names.map((name) => findOutbox(config, name));
}

/** The configured outbox called `name`. @throws UsageError */
export function findOutbox(config: AnnalsConfig, name: string): Outbox {
  const outboxes = config.outboxes ?? [];
  const outbox = outboxes.find((o) => o.name === name);
  if (!outbox) throw new UsageError(`no outbox named '${name}' (known: ${outboxes.map((o) => o.name).join(', ') || 'none'})`);
  return outbox;
}
