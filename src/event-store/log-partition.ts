/**
 * A message written with the outbox's `writeMessage` is an event of this type in a stream
 * of this category; its ordering key is the `key` in its data, not its stream id.
 * readAll's `partition` with `key: 'ordering'` partitions by that key (as the outbox relay
 * does), so both layers read the convention from here.
 */
export const writtenMessage = { category: 'outbox', type: 'annals.outbox.message' } as const;
