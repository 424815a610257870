/**
 * `annals/outbox`: the transactional outbox (docs/outbox.md), its publishers
 * (docs/publishers.md) and the receiving side's inbox (docs/inbox.md). A subpath of its
 * own: its option types name the broker clients' types (@nats-io, amqplib), optional
 * peers a project using only the event store does not install.
 */
export {
  defineOutbox,
  type Outbox,
  type OutboxDefinition,
  type OutboxDestination,
  type OutboxRoute,
} from './define-outbox.js';
export { outboxMessage, writeMessage, type MessageToWrite } from './write-message.js';
export { runOutboxRelay, type OutboxRelay, type OutboxRelayMetrics, type OutboxRelayOptions } from './run-outbox-relay.js';
export {
  listParkedMessages,
  retryParkedMessage,
  skipParkedMessage,
  type ListParkedOptions,
  type ParkedMessage,
  type ReleaseResult,
} from './parked-messages.js';
export type { ParkedStatus } from './parked-table.js';
export { outboxStatus, type OutboxDestinationStatus, type OutboxPartitionStatus, type OutboxStatus } from './outbox-status.js';
export { messageIdOf } from './message-id.js';
export type { OutboxMessage, Publisher } from './message.js';
export { encodeEnvelope, parseEnvelope, toEnvelope, type Envelope } from './envelope.js';
export {
  natsPublisher,
  rabbitmqPublisher,
  routingToken,
  signWebhook,
  verifyWebhook,
  webhookPublisher,
  WebhookHeaders,
  type NatsPublisher,
  type NatsPublisherOptions,
  type NatsStreamOptions,
  type RabbitMqPublisher,
  type RabbitMqPublisherOptions,
  type VerifyWebhookInput,
  type WebhookPublisherOptions,
  type WebhookSecret,
} from './publishers/index.js';
export {
  createInbox,
  type Inbox,
  type InboxDatabase,
  type InboxOptions,
  type InboxOutcome,
  type InboxTransaction,
  type PruneOptions,
} from './inbox.js';
export { PublishError, type PublishTarget } from '../errors/outbox-errors.js';
