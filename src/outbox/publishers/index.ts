/**
 * The publishers Annals ships (docs/publishers.md): NATS JetStream (the default),
 * RabbitMQ and signed webhooks, with the receiver's side of the webhook. The NATS and
 * RabbitMQ client packages are optional peers, loaded on first use.
 */
export { natsPublisher, type NatsPublisher, type NatsPublisherOptions, type NatsStreamOptions } from './nats-publisher.js';
export { rabbitmqPublisher, type RabbitMqPublisher, type RabbitMqPublisherOptions } from './rabbitmq-publisher.js';
export { webhookPublisher, type WebhookPublisherOptions } from './webhook-publisher.js';
export { signWebhook, verifyWebhook, WebhookHeaders, type VerifyWebhookInput, type WebhookSecret } from './webhook-signature.js';
export { routingToken } from './publish-support.js';
