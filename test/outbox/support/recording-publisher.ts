// No vitest import here: the relay script (a child process) uses it too.
import type { OutboxMessage, Publisher } from '../../../src/outbox/message.js';

/**
 * A real publisher that keeps what it was given, in memory: the relay's own logic is
 * tested with it (ordering, parking, retries); the brokers' publishers have tests of
 * their own against the brokers. `fail` decides, per attempt, whether a publish throws
 * (the message's attempts are counted per message id). It checks, as it receives them,
 * that each key's messages arrive in log order (a message sent again after a crash may
 * go back to the checkpoint, never skip forward past one not yet received).
 */
export class RecordingPublisher implements Publisher {
  readonly kind = 'recording';
  readonly received: OutboxMessage[] = [];
  readonly attempts = new Map<string, number>();
  closed = false;
  /** Messages being published now, per lane: more than one means a key published concurrently. */
  readonly #inFlight: Map<string, number>;
  readonly concurrentKeys: Set<string>;
  #fail: (message: OutboxMessage, attempt: number) => Error | undefined;
  readonly #delayMs: number;
  readonly #before: (message: OutboxMessage) => Promise<void>;

  /** `before`: awaited before each attempt (a test orders publishes of different keys with it). */
  /** `sink`: where several publishers (of several relays) also record, in the order received. */
  readonly #sink: OutboxMessage[] | undefined;

  constructor(
    options: {
      fail?: (message: OutboxMessage, attempt: number) => Error | undefined;
      delayMs?: number;
      before?: (message: OutboxMessage) => Promise<void>;
      sink?: OutboxMessage[];
      /** Shared by the publishers of several relays, to see a key published by two at once. */
      shared?: { inFlight: Map<string, number>; concurrentKeys: Set<string> };
    } = {},
  ) {
    this.#sink = options.sink;
    this.#inFlight = options.shared?.inFlight ?? new Map();
    this.concurrentKeys = options.shared?.concurrentKeys ?? new Set();
    this.#fail = options.fail ?? (() => undefined);
    this.#delayMs = options.delayMs ?? 0;
    this.#before = options.before ?? (async () => {});
  }

  set fail(fail: (message: OutboxMessage, attempt: number) => Error | undefined) {
    this.#fail = fail;
  }

  async publish(message: OutboxMessage): Promise<void> {
    const lane = `${message.destination}\n${message.key}`;
    const inFlight = (this.#inFlight.get(lane) ?? 0) + 1;
    this.#inFlight.set(lane, inFlight);
    if (inFlight > 1) this.concurrentKeys.add(message.key);
    try {
      await this.#before(message);
      if (this.#delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
      else await Promise.resolve();
      const attempt = (this.attempts.get(message.id) ?? 0) + 1;
      this.attempts.set(message.id, attempt);
      const error = this.#fail(message, attempt);
      if (error) throw error;
      this.received.push(message);
      this.#sink?.push(message);
    } finally {
      this.#inFlight.set(lane, this.#inFlight.get(lane)! - 1);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Per key, the positions received (duplicates included), in the order received. */
  positionsByKey(): Map<string, bigint[]> {
    const byKey = new Map<string, bigint[]>();
    for (const message of this.received) {
      let positions = byKey.get(message.key);
      if (!positions) byKey.set(message.key, (positions = []));
      positions.push(BigInt(message.position));
    }
    return byKey;
  }
}

/**
 * The order promise, checked on what a receiver got for one key: each message is either
 * the next one not yet received, or one received before (a redelivery from the
 * checkpoint); never one past a message that has not arrived yet. `expected`: the key's
 * positions in log order.
 */
export function orderViolations(received: readonly bigint[], expected: readonly bigint[]): string[] {
  const violations: string[] = [];
  let next = 0;
  const seen = new Set<bigint>();
  for (const position of received) {
    if (seen.has(position)) continue;
    if (expected[next] !== position) violations.push(`got ${position} while expecting ${expected[next]}`);
    seen.add(position);
    next++;
  }
  if (next !== expected.length) violations.push(`received ${next} of ${expected.length}`);
  return violations;
}
