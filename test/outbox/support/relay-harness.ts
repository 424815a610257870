import { afterEach } from 'vitest';
import type { EventStore } from '../../../src/event-store/event-store.js';
import type { Outbox } from '../../../src/outbox/define-outbox.js';
import { runOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from '../../../src/outbox/run-outbox-relay.js';

/** Fast retries, short leases and polls: the tests wait on outcomes, never on timings. */
export const quick: OutboxRelayOptions = { pollIntervalMs: 50, leaseTtlMs: 1000, retries: { attempts: 3, minDelayMs: 1, maxDelayMs: 20 } };

/** Relays started by a test, stopped after it (call at the top level of the file). */
export function relays(): (store: EventStore, outbox: Outbox, options?: OutboxRelayOptions) => OutboxRelay {
  const running: OutboxRelay[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((relay) => relay.stop()));
  });
  return (store, outbox, options = {}) => {
    const relay = runOutboxRelay(store, outbox, { ...quick, ...options });
    running.push(relay);
    return relay;
  };
}
