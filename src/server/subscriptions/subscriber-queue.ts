/**
 * What one subscriber has been sent and not yet taken: the async iterator mercurius reads
 * a subscription's values from. mercurius takes the next value only once the previous one
 * is written to the socket, so values pile up here while the client does not read; past
 * `limit` the subscriber is a slow consumer and `onOverflow` drops it (the connection is
 * closed, docs/subscriptions.md "Limits"), so a client that stalls costs a bounded amount
 * of memory, not one value per change for as long as it stalls.
 */

export interface SubscriberQueueOptions {
  /** Most values waiting; one more calls `onOverflow`. */
  limit: number;
  /** Called once, with how many were waiting, when the queue passes its limit (the queue has ended then). */
  onOverflow: (waiting: number) => void;
  /** Called once when the queue ends, whoever ends it (the client, a failure, an overflow). */
  onEnd: () => void;
}

type Pull<T> = { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void };

export class SubscriberQueue<T> implements AsyncIterableIterator<T> {
  readonly #options: SubscriberQueueOptions;
  #values: T[] = [];
  #pull: Pull<T> | undefined;
  #ended = false;
  #failure: { error: unknown } | undefined;

  constructor(options: SubscriberQueueOptions) {
    this.#options = options;
  }

  /** Whether the queue still takes values. */
  get open(): boolean {
    return !this.#ended;
  }

  /** How many values wait to be taken. */
  get waiting(): number {
    return this.#values.length;
  }

  /** Adds a value; nothing once the queue has ended. */
  push(value: T): void {
    if (this.#ended) return;
    const pull = this.#pull;
    if (pull) {
      this.#pull = undefined;
      pull.resolve({ value, done: false });
      return;
    }
    this.#values.push(value);
    if (this.#values.length > this.#options.limit) {
      const waiting = this.#values.length;
      this.#end();
      this.#options.onOverflow(waiting);
    }
  }

  /** Ends the queue with `error`: the reader gets it next, instead of what was waiting. */
  fail(error: unknown): void {
    if (this.#ended) return;
    const pull = this.#pull;
    this.#pull = undefined;
    // A reader waiting gets the error now; otherwise the next read does.
    if (!pull) this.#failure = { error };
    this.#end();
    pull?.reject(error);
  }

  /** Ends the queue: the reader gets `done` (what was waiting is dropped). */
  end(): void {
    this.#end();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#values.length > 0) return Promise.resolve({ value: this.#values.shift()!, done: false });
    if (this.#failure) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return Promise.reject(error as Error);
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#pull = { resolve, reject }));
  }

  /** The reader is done (the client stopped the subscription or went away). */
  return(): Promise<IteratorResult<T>> {
    this.#end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.#end();
    return Promise.reject(error as Error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#values = [];
    const pull = this.#pull;
    this.#pull = undefined;
    pull?.resolve({ value: undefined, done: true });
    this.#options.onEnd();
  }
}
