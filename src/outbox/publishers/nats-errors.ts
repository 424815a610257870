/**
 * Which NATS and JetStream failures a retry can cure. Errors are told apart by `name`
 * rather than `instanceof`: a project may hold two copies of the client packages, and an
 * error from one is not an instance of the other's class.
 */

/** What the publisher concludes from an error of the NATS client. */
export interface NatsFailure {
  retryable: boolean;
  reason: string;
}

/** JetStream API error codes the classification names (nats-server's errors.json). */
const streamCodes = {
  /** The stream's `max_msg_size` is below the message's size: this message never fits. */
  messageTooLarge: 10054,
  /**
   * The stream could not store the message: with `discard: new`, full by `max_msgs`,
   * `max_bytes` or `max_msgs_per_subject`. Room comes back (max_age, a work queue's acks,
   * an operator raising the limit) and every message waits behind it alike, so a retry
   * with backoff drains the backlog once it does; parking would park the whole backlog.
   */
  storeFailed: 10077,
} as const;

export function classifyNatsError(error: unknown): NatsFailure {
  const { name, message } = error instanceof Error ? error : { name: '', message: String(error) };
  switch (name) {
    // Connection down, reconnecting, or closed: the client reconnects (or the publisher
    // connects again on the next publish) and the same message goes through.
    case 'TimeoutError':
      return { retryable: true, reason: 'no ack from JetStream in time (server down, reconnecting or slow)' };
    case 'ConnectionError':
    case 'ClosedConnectionError':
    case 'DrainingConnectionError':
      return { retryable: true, reason: `connection unavailable: ${message}` };
    // No stream listens on the subject, or JetStream is not answering (a restart, a
    // leader election, a stream being recreated).
    case 'NoResponders':
    case 'JetStreamNotEnabled':
      return { retryable: true, reason: `no JetStream stream answered on the subject: ${message}` };
    // The client refuses before sending: the server's max_payload, a header value with a
    // line break. The same message is refused the same way every time.
    case 'InvalidArgumentError':
    case 'InvalidSubjectError':
      return { retryable: false, reason: message };
  }
  const api = error as { code?: unknown; status?: unknown };
  if (typeof api.code === 'number' && typeof api.status === 'number') {
    if (api.code === streamCodes.messageTooLarge) return { retryable: false, reason: `the stream refused the message: ${message} (its max_msg_size)` };
    if (api.code === streamCodes.storeFailed || api.status >= 500) return { retryable: true, reason: `the stream could not store the message now: ${message} (JetStream error ${api.code})` };
    return { retryable: false, reason: `the stream refused the message: ${message} (JetStream error ${api.code})` };
  }
  return { retryable: true, reason: message };
}
