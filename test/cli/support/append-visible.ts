import type { EventStore } from 'annals';

/**
 * Appends, then waits until readers of the log see the events: catchUpProjections goes
 * up to the head as of its call, and transactions of other test files can hold that
 * head back for a moment (docs/global-log.md).
 */
export async function appendVisible(store: EventStore, streamId: string, events: { type: string; data: unknown }[]): Promise<bigint> {
  const { lastGlobalPosition } = await store.appendToStream(streamId, events);
  const deadline = Date.now() + 10_000;
  while ((await store.headPosition()) < lastGlobalPosition) {
    if (Date.now() > deadline) throw new Error(`position ${lastGlobalPosition} did not become visible within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return lastGlobalPosition;
}
