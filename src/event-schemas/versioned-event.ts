import { z } from 'zod';

/**
 * One step of an event type's history: how data of `schema`'s version becomes the next
 * version's shape. Make one with {@link upcast}.
 */
export interface Upcaster {
  readonly schema: z.ZodType;
  readonly upcast: (data: never) => unknown;
}

/**
 * An upcaster from the old shape `schema` to the next version's shape.
 *
 * @example
 * ```ts
 * upcast(z.object({ post: z.string(), userId: z.string() }), (v1) => ({ postId: v1.post, userId: v1.userId, source: 'web' }))
 * ```
 */
export function upcast<S extends z.ZodType>(schema: S, to: (data: z.infer<S>) => unknown): Upcaster {
  return { schema, upcast: to as (data: never) => unknown };
}

/** An event type with past schema versions; see {@link versionedEvent}. */
export interface VersionedEvent<S extends z.ZodType = z.ZodType> {
  readonly kind: 'versioned-event';
  readonly schema: S;
  /** The current schema version: one more than the number of upcasters. */
  readonly version: number;
  readonly upcasters: readonly Upcaster[];
}

/**
 * An event type whose payload changed over time. `history[0]` reads version 1 and
 * returns version 2's shape, `history[1]` reads version 2, and so on; `current` is
 * version `history.length + 1`, the only shape `evolve` and projections ever see. Stored
 * events are never rewritten: old payloads are upcast each time they are read.
 *
 * @example
 * ```ts
 * LikeCreated: versionedEvent(likeCreatedV2, [upcast(likeCreatedV1, (v1) => ({ ...v1, source: 'web' }))]),
 * ```
 */
export function versionedEvent<S extends z.ZodType>(current: S, history: readonly Upcaster[]): VersionedEvent<S> {
  return { kind: 'versioned-event', schema: current, version: history.length + 1, upcasters: history };
}

/** Event types by name: a zod schema, or a {@link versionedEvent}. */
export type EventSchemas = Record<string, z.ZodType | VersionedEvent>;

/** The zod schema of an event type's current version. */
export type SchemaOf<T> = T extends VersionedEvent<infer S> ? S : T extends z.ZodType ? T : never;

/** The data of one event type, as `evolve` sees it (the current shape). */
export type EventData<T> = z.infer<SchemaOf<T>>;

/** The events of a schema map as a discriminated union: `{ type: 'LikeCreated', data: {...} }`. */
export type DomainEvent<Events extends EventSchemas> = {
  [K in keyof Events & string]: { type: K; data: EventData<Events[K]> };
}[keyof Events & string];

/** What `decide` may return for each event type: the data as it goes in (before zod defaults). */
export type DomainEventInput<Events extends EventSchemas> = {
  [K in keyof Events & string]: { type: K; data: z.input<SchemaOf<Events[K]>> };
}[keyof Events & string];

export function isVersioned(value: z.ZodType | VersionedEvent): value is VersionedEvent {
  return (value as VersionedEvent).kind === 'versioned-event';
}
