import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublishError, ValidationError } from '../../../src/errors.js';
import { parseEnvelope, toEnvelope } from '../../../src/outbox/envelope.js';
import { rabbitmqPublisher, type RabbitMqPublisher } from '../../../src/outbox/publishers/index.js';
import { eventually } from '../../setup/eventually.js';
import { startTcpProxy, type TcpProxy } from '../../setup/tcp-proxy.js';
import { outboxMessage, rejectionOf, uniqueSuffix } from './support/messages.js';

// The shared broker of the test machine; this file's exchanges carry its own suffix and
// are deleted after it, its queues are exclusive.
const rabbitUrl = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const suffix = uniqueSuffix();
const exchanges = new Set<string>();
const publishers: RabbitMqPublisher[] = [];
let observer: ChannelModel;
let channel: Channel;

function exchangeName(name: string): string {
  const exchange = `annals-test-${suffix}-${name}`;
  exchanges.add(exchange);
  return exchange;
}

function publisherFor(options: Partial<Parameters<typeof rabbitmqPublisher>[0]> & { exchange: string }): RabbitMqPublisher {
  const made = rabbitmqPublisher({ url: rabbitUrl, ...options });
  publishers.push(made);
  return made;
}

/** An exclusive queue bound to `exchange` by `pattern`, and the messages it receives. */
async function observe(exchange: string, pattern = '#'): Promise<ConsumeMessage[]> {
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, pattern);
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
  return received;
}

beforeAll(async () => {
  observer = await amqp.connect(rabbitUrl);
  channel = await observer.createChannel();
});

afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close()));
  for (const exchange of exchanges) await channel.deleteExchange(exchange).catch(() => {});
  await observer.close();
});

describe('rabbitmqPublisher against RabbitMQ', () => {
  it('publishes to a durable topic exchange, routing key <category>.<type>, persistent, with messageId and headers, confirmed', async () => {
    const exchange = exchangeName('basic');
    const received = await observe(exchange, 'post.*');
    const publisher = publisherFor({ exchange });
    const message = outboxMessage();

    await publisher.publish(message);

    const [delivered] = await eventually(async () => {
      expect(received).toHaveLength(1);
      return received;
    });
    expect(delivered!.fields.routingKey).toBe('post.PostLiked');
    expect(delivered!.properties).toMatchObject({
      messageId: message.id,
      type: 'PostLiked',
      contentType: 'application/json',
      deliveryMode: 2,
      correlationId: message.correlationId,
      timestamp: Math.floor(message.recordedAt.getTime() / 1000),
      headers: expect.objectContaining({ 'annals-key': message.key, 'annals-position': '42', 'annals-schema-version': '1', 'annals-correlation-id': message.correlationId }),
    });
    expect(parseEnvelope(delivered!.content)).toEqual(toEnvelope(message));
    // Durable: asserting it as not durable is refused, so it was declared durable.
    const probe = await observer.createChannel();
    probe.on('error', () => {});
    await expect(probe.assertExchange(exchange, 'topic', { durable: false })).rejects.toThrow(/PRECONDITION_FAILED/);
  });

  it('routes by category and type, dots inside them turned into _', async () => {
    const exchange = exchangeName('routing');
    const received = await observe(exchange, 'order_line.*');
    const publisher = publisherFor({ exchange });

    expect(publisher.routingKeyOf(outboxMessage({ category: 'order.line', type: 'Placed' }))).toBe('order_line.Placed');
    await publisher.publish(outboxMessage({ category: 'order.line', type: 'Placed' }));
    await publisher.publish(outboxMessage({ category: 'post', type: 'Placed' }));

    await eventually(async () => expect(received.map((message) => message.fields.routingKey)).toEqual(['order_line.Placed']));
  });

  it('fails retryable when the broker nacks (a queue refusing by reject-publish), and publishes once there is room', async () => {
    const exchange = exchangeName('nack');
    const publisher = publisherFor({ exchange });
    await publisher.ready();
    const { queue } = await channel.assertQueue('', { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await channel.bindQueue(queue, exchange, '#');
    await publisher.publish(outboxMessage());

    const error = await rejectionOf(publisher.publish(outboxMessage()));
    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('nacked') });

    await channel.purgeQueue(queue);
    await publisher.publish(outboxMessage());
  });

  it('refuses a message over the broker max_message_size, not retryable, and publishes the next on a new channel', async () => {
    const exchange = exchangeName('large');
    const received = await observe(exchange);
    const publisher = publisherFor({ exchange });
    await publisher.publish(outboxMessage());
    // RabbitMQ's default max_message_size is 128 MiB (3.8 to 3.13; 16 MiB from 4.0).
    const large = outboxMessage({ payload: 'x'.repeat(129 * 1024 * 1024) });

    const error = await rejectionOf(publisher.publish(large));

    expect(error).toMatchObject({ retryable: false, reason: expect.stringMatching(/message size \d+ is larger than configured max size/) });
    await publisher.publish(outboxMessage());
    await eventually(async () => expect(received).toHaveLength(2));
  });

  it('refuses a message over maxMessageBytes before sending it, not retryable', async () => {
    const publisher = publisherFor({ exchange: exchangeName('max-bytes'), maxMessageBytes: 1024 });

    const error = await rejectionOf(publisher.publish(outboxMessage({ payload: 'x'.repeat(2000) })));

    expect(error).toMatchObject({ retryable: false, reason: expect.stringContaining('over maxMessageBytes 1024') });
  });

  it('fails retryable when the connection is lost or the broker unreachable, and publishes once it is back', async () => {
    const proxy: TcpProxy = await startTcpProxy(rabbitUrl);
    try {
      const exchange = exchangeName('lost');
      const received = await observe(exchange);
      const publisher = publisherFor({ exchange, url: proxy.url });
      await publisher.publish(outboxMessage());

      proxy.cut();
      const lost = outboxMessage();
      const error = await rejectionOf(publisher.publish(lost));
      expect(error).toMatchObject({ code: 'ANNALS_PUBLISH', retryable: true, messageId: lost.id });
      const again = await rejectionOf(publisher.publish(lost));
      expect(again).toMatchObject({ retryable: true });

      proxy.restore();
      await eventually(() => publisher.publish(lost));
      await eventually(async () => expect(received.map((message) => message.properties.messageId)).toContain(lost.id));
    } finally {
      await proxy.close();
    }
  });

  it('fails retryable when the relay aborts the publish', async () => {
    const publisher = publisherFor({ exchange: exchangeName('abort') });
    const controller = new AbortController();
    controller.abort();

    const error = await rejectionOf(publisher.publish(outboxMessage(), { signal: controller.signal }));

    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('aborted') });
  });

  it('after close(), refuses to publish (retryable)', async () => {
    const publisher = publisherFor({ exchange: exchangeName('closed') });
    await publisher.publish(outboxMessage());
    await publisher.close();

    const error = await rejectionOf(publisher.publish(outboxMessage()));

    expect(error).toMatchObject({ retryable: true, reason: 'the RabbitMQ publisher is closed' });
  });

  it('refuses options it cannot use, naming them', () => {
    const optionError = (options: Parameters<typeof rabbitmqPublisher>[0]) => {
      try {
        rabbitmqPublisher(options);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error('expected a ValidationError');
    };
    expect(optionError({ url: '' })).toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.url' });
    expect(optionError({ url: rabbitUrl, exchange: '' })).toMatchObject({ field: 'options.exchange' });
    expect(optionError({ url: rabbitUrl, timeoutMs: -1 })).toMatchObject({ field: 'options.timeoutMs' });
    expect(optionError({ url: rabbitUrl, maxMessageBytes: 0 })).toMatchObject({ field: 'options.maxMessageBytes' });
  });
});
