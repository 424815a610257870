import { connectionTypeDefs } from '../../graphql/connection.js';
import { pendingReadLimit } from '../../outbox/outbox-status.js';

/** The outbox half of the admin part's SDL (docs/outbox.md): every root field in it needs the `admin` role. */
export const outboxTypeDefs = `"""One destination of an outbox: its backlog and its parked messages."""
type OutboxDestinationStatus {
  destination: String!
  """The publisher's kind: nats, rabbitmq, webhook, or a custom publisher's."""
  publisher: String!
  """Messages committed in the log and not yet past their relay partition's checkpoint (neither published nor parked); counted up to ${pendingReadLimit} events per partition."""
  pending: Int!
  """Age of the oldest pending message, in milliseconds; null when none is pending."""
  oldestPendingAgeMs: Float
  """Parked messages: each holds its key until it is retried or skipped."""
  parked: Int!
  """Messages held behind a parked one of their key."""
  held: Int!
}

"""One partition of an outbox's relay (partitions are by ordering key)."""
type OutboxPartitionStatus {
  partition: Int!
  """The relay worker holding its lease; null when none does."""
  owner: String
  """Its checkpoint: the global position it has published up to, as a string (positions pass 2^53)."""
  position: String!
  """Events of the outbox after its checkpoint, over every destination."""
  pending: Int!
  """Messages per second its owner published recently; null before it has run."""
  publishRate: Float
  """The last error of a failing batch; null when healthy."""
  lastError: String
}

"""Where one outbox of the service stands."""
type OutboxStatus {
  outbox: String!
  """The consumer its relay runs as (outbox:<name>)."""
  consumer: String!
  """The log's head as the status was read."""
  head: String!
  destinations: [OutboxDestinationStatus!]!
  partitions: [OutboxPartitionStatus!]!
}

enum ParkedMessageStatus {
  """The relay could not publish it: its key is held behind it."""
  PARKED
  """Kept behind a parked message of its key, in log order."""
  HELD
  """Published by a retry."""
  PUBLISHED
  """Given up by a skip: never published."""
  SKIPPED
}

enum ParkedMessageStatusFilter {
  """Parked and held: what waits for a person."""
  UNRESOLVED
  PARKED
  HELD
  PUBLISHED
  SKIPPED
  ALL
}

"""A message the relay parked, or one held behind it, and what became of it."""
type ParkedMessage {
  """Pass it to retryParkedMessage or skipParkedMessage."""
  id: ID!
  outbox: String!
  destination: String!
  """The message's id (the broker's dedupe id and the receiver's inbox key)."""
  messageId: ID!
  """The ordering key: later messages of it wait while this one is unresolved."""
  key: String!
  """The event's global position."""
  position: String!
  eventId: ID!
  eventType: String!
  status: ParkedMessageStatus!
  """The last error; null for a held message never tried."""
  error: String
  attempts: Int!
  parkedAt: String!
  resolvedAt: String
  """The event it was made of (null if no longer in the log)."""
  event: LogEvent
}

"""The message a retry or skip failed on: parked again with this error, its key still held."""
type ParkedMessageFailure {
  id: ID!
  error: String!
}

"""What a retry or a skip did: the key's messages it published, in order, until one failed again."""
type ParkedMessageRelease {
  """The message named, as it is now."""
  message: ParkedMessage!
  published: Int!
  failed: ParkedMessageFailure
}

${connectionTypeDefs('ParkedMessage')}

extend type Query {
  """Where each of the service's outboxes stands: backlog, parked and held messages per destination, relay partitions (admin)."""
  outboxStatus: [OutboxStatus!]!
  """An outbox's parked and held messages in log order, the order a retry publishes them; by default the unresolved ones (admin)."""
  parkedMessages(outbox: String!, status: ParkedMessageStatusFilter = UNRESOLVED, destination: String, key: String, first: Int, after: String): ParkedMessageConnection!
}

extend type Mutation {
  """Publishes the key's parked and held messages again, in order, with the outbox as defined now; the key is released once all went out (admin)."""
  retryParkedMessage(outbox: String!, id: ID!): ParkedMessageRelease!
  """Gives up on one message (SKIPPED, never published); when it was the key's parked one, the messages held behind it go out in order (admin)."""
  skipParkedMessage(outbox: String!, id: ID!): ParkedMessageRelease!
}`;
