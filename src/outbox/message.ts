/**
 * What goes out: an integration message, as every publisher receives it. Built by the
 * relay from an event of the log (or a message written to the log with the events) and
 * the outbox's declaration of it (its destination and public shape).
 */
export interface OutboxMessage {
  /**
   * Stable across retries, relays and restarts (derived from the event's id): the broker's
   * dedupe id (`Nats-Msg-Id`, AMQP `message_id`, the webhook's `annals-message-id`), and
   * the receiver's inbox key.
   */
  readonly id: string;
  /** The destination declared in the outbox: which publisher, and where in it. */
  readonly destination: string;
  /** The ordering key: messages with the same key are published in log order, one at a time. The stream id by default. */
  readonly key: string;
  /** The public type of the message (the integration event's name; the event type by default). */
  readonly type: string;
  /** The version of the public shape, for receivers that read several. */
  readonly schemaVersion: number;
  /** The category of the event's stream (`post` for `post-42`): the default subject's middle part. */
  readonly category: string;
  /** The public payload, already mapped and validated against the declared shape: JSON. */
  readonly payload: unknown;
  /** The event's global position, as a decimal string (JSON has no 64-bit integers). */
  readonly position: string;
  readonly streamId: string;
  /** When the event was recorded. */
  readonly recordedAt: Date;
  readonly correlationId?: string;
  readonly causationId?: string;
}

/**
 * Sends messages to one broker or endpoint. Small on purpose: a Kafka publisher is a page
 * of code (docs/publishers.md shows one).
 *
 * The relay calls `publish` for one message at a time per key (the next message of a key
 * only once the previous one is acknowledged), and for different keys concurrently.
 */
export interface Publisher {
  /** For logs, metrics and errors: `nats`, `rabbitmq`, `webhook`, or your own. */
  readonly kind: string;
  /**
   * Resolves once the broker has durably accepted the message (a JetStream ack, a
   * publisher confirm, a 2xx), and not before: the relay moves its checkpoint past a
   * message only then.
   *
   * @throws PublishError with `retryable` saying whether trying again can succeed.
   * Anything else thrown is taken as retryable.
   */
  publish(message: OutboxMessage, options?: { signal?: AbortSignal }): Promise<void>;
  /** Releases connections. The relay calls it when it stops. */
  close(): Promise<void>;
}
