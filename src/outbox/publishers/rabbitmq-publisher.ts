/**
 * Publishes outbox messages to a RabbitMQ topic exchange with publisher confirms
 * (docs/publishers.md). `amqplib` is an optional peer, loaded on the first publish.
 */
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { PublishError, ValidationError } from '../../errors.js';
import { loadOptionalPackage } from '../../server/security/optional-package.js';
import { encodeEnvelope } from '../envelope.js';
import type { OutboxMessage, Publisher } from '../message.js';
import { awaitAnswer, describeError, messageHeaders, nameOf, publishError, routingToken } from './publish-support.js';

export interface RabbitMqPublisherOptions {
  /** `amqp://user:password@host:5672/vhost`, or amqplib's connection object. */
  url: string | Options.Connect;
  /** amqplib's socket options (TLS, timeouts). */
  socketOptions?: Record<string, unknown>;
  /** The topic exchange, asserted on connecting. Default `annals`. */
  exchange?: string;
  /** Over the default `{ durable: true }` (`alternateExchange`, `arguments`...). */
  exchangeOptions?: Options.AssertExchange;
  /** Replaces the default routing key `<category>.<type>`. */
  routingKey?: (message: OutboxMessage) => string;
  /** How long to wait for each publisher confirm. Default 10000. */
  timeoutMs?: number;
  /**
   * Refuse larger envelopes before sending them (not retryable), matching the broker's
   * `max_message_size`. Without it the broker's own refusal is recognised the same way,
   * at the cost of a channel.
   */
  maxMessageBytes?: number;
}

/** The RabbitMQ publisher: a {@link Publisher} that can also connect ahead of the first publish. */
export interface RabbitMqPublisher extends Publisher {
  readonly kind: 'rabbitmq';
  routingKeyOf(message: OutboxMessage): string;
  /** Connects and asserts the exchange now, so a service can fail at start. */
  ready(): Promise<void>;
}

/**
 * Publishes each message to a durable topic exchange, routing key `<category>.<type>`,
 * persistent, with `messageId` set to the message's id, on a confirm channel: resolves
 * once the broker confirms it. A lost connection fails the publishes in flight
 * (retryable) and the next publish connects again.
 *
 * @throws ValidationError naming the option at fault.
 * @example
 * ```ts
 * const publisher = rabbitmqPublisher({ url: 'amqp://guest:guest@127.0.0.1:5672' });
 * await publisher.publish(message); // exchange annals, routing key post.PostLiked
 * ```
 */
export function rabbitmqPublisher(options: RabbitMqPublisherOptions): RabbitMqPublisher {
  return new RabbitMqConfirmPublisher(checkOptions(options));
}

type Settings = Required<Omit<RabbitMqPublisherOptions, 'routingKey' | 'maxMessageBytes'>> & Pick<RabbitMqPublisherOptions, 'routingKey' | 'maxMessageBytes'>;

interface Session {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** Why the channel or connection closed, as the broker said it. */
  failure: Error | undefined;
  /** Set while the broker blocks the connection (a memory or disk alarm). */
  blocked: string | undefined;
}

/** The broker's refusal of a message over `max_message_size`, which closes the channel. */
const tooLarge = /message size (\d+) is larger than configured max size (\d+)/;

class RabbitMqConfirmPublisher implements RabbitMqPublisher {
  readonly kind = 'rabbitmq';
  readonly #settings: Settings;
  #session: Promise<Session> | undefined;
  #closed = false;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  routingKeyOf(message: OutboxMessage): string {
    const custom = this.#settings.routingKey;
    return custom ? custom(message) : `${routingToken(message.category)}.${routingToken(message.type)}`;
  }

  async ready(): Promise<void> {
    await this.#open();
  }

  async publish(message: OutboxMessage, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) throw publishError(message, 'the RabbitMQ publisher is closed', true);
    const { exchange, timeoutMs, maxMessageBytes } = this.#settings;
    const routingKey = nameOf(message, 'routing key', () => this.routingKeyOf(message));
    const where = `exchange '${exchange}', routing key '${routingKey}'`;
    // AMQP's shortstr: 255 bytes at most; the broker would close the channel.
    if (Buffer.byteLength(routingKey) > 255) throw publishError(message, `${where}: the routing key is over 255 bytes`, false);
    const body = Buffer.from(encodeEnvelope(message));
    if (maxMessageBytes !== undefined && body.length > maxMessageBytes) {
      throw publishError(message, `${where}: the envelope is ${body.length} bytes, over maxMessageBytes ${maxMessageBytes}`, false);
    }
    const session = await awaitAnswer(message, this.#setUp(message), { signal: options.signal, waitingFor: 'a connection to RabbitMQ' });
    // A blocked connection accepts writes and confirms nothing until the alarm clears.
    if (session.blocked !== undefined) throw publishError(message, `${where}: the broker blocks publishing (${session.blocked})`, true);
    const confirmed = new Promise<void>((resolve, reject) => {
      session.channel.publish(exchange, routingKey, body, publishProperties(message), (error: unknown) => (error ? reject(error) : resolve()));
    });
    try {
      await awaitAnswer(message, confirmed, { signal: options.signal, timeoutMs, waitingFor: 'the publisher confirm' });
    } catch (error) {
      if (error instanceof PublishError) throw error;
      throw classify(message, where, body.length, session, error);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#session;
    this.#session = undefined;
    const session = await opening?.catch(() => undefined);
    await session?.model.close().catch(() => {});
  }

  async #setUp(message: OutboxMessage): Promise<Session> {
    try {
      return await this.#open();
    } catch (error) {
      // Not the message's fault (broker down, exchange declared differently): retryable.
      throw publishError(message, `connecting to RabbitMQ: ${describeError(error)}`, true, error);
    }
  }

  #open(): Promise<Session> {
    if (this.#session !== undefined) return this.#session;
    const opening: Promise<Session> = this.#connect((session) => {
      // The next publish connects again; this connection's publishes in flight fail.
      if (this.#session === opening) this.#session = undefined;
      session.model.close().catch(() => {});
    }).catch((error: unknown) => {
      if (this.#session === opening) this.#session = undefined;
      throw error;
    });
    this.#session = opening;
    return opening;
  }

  async #connect(onLost: (session: Session) => void): Promise<Session> {
    const { url, socketOptions, exchange, exchangeOptions } = this.#settings;
    const amqp = await loadOptionalPackage('amqplib', 'rabbitmqPublisher', () => import('amqplib'));
    const model = await amqp.connect(url, socketOptions);
    // 'error' comes before 'close' and carries the broker's reason; without a listener,
    // an 'error' event would crash the process.
    const seen: Pick<Session, 'failure' | 'blocked'> = { failure: undefined, blocked: undefined };
    const record = (error: Error) => (seen.failure ??= error);
    model.on('error', record);
    model.on('blocked', (reason: string) => (seen.blocked = reason || 'blocked'));
    model.on('unblocked', () => (seen.blocked = undefined));
    try {
      const channel = await model.createConfirmChannel();
      channel.on('error', record);
      const session: Session = Object.assign(seen, { model, channel });
      model.on('close', () => onLost(session));
      channel.on('close', () => onLost(session));
      await channel.assertExchange(exchange, 'topic', { durable: true, ...exchangeOptions });
      if (this.#closed) throw new Error('the RabbitMQ publisher was closed while connecting');
      return session;
    } catch (error) {
      await model.close().catch(() => {});
      throw error;
    }
  }
}

function publishProperties(message: OutboxMessage): Options.Publish {
  return {
    persistent: true,
    messageId: message.id,
    type: message.type,
    contentType: 'application/json',
    timestamp: Math.floor(message.recordedAt.getTime() / 1000),
    headers: messageHeaders(message),
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
  };
}

function classify(message: OutboxMessage, where: string, size: number, session: Session, error: unknown): PublishError {
  const failure = session.failure;
  const refusal = failure === undefined ? null : tooLarge.exec(failure.message);
  // The broker names the size it refused; other publishes on the channel fail with it, retryably.
  if (refusal !== null && Number(refusal[1]) === size) {
    return publishError(message, `${where}: the broker refused the message: ${refusal[0]}`, false, failure);
  }
  if (error instanceof Error && error.message === 'message nacked') {
    return publishError(message, `${where}: the broker nacked the message (a queue refusing it, or an internal error)`, true, error);
  }
  // amqplib refuses a headers table it cannot encode; the same message always fails so.
  if (error instanceof RangeError) return publishError(message, `${where}: ${error.message}`, false, error);
  const reason = failure === undefined ? describeError(error) : `${describeError(error)}: ${failure.message}`;
  return publishError(message, `${where}: connection or channel lost before the confirm: ${reason}`, true, error);
}

function checkOptions(options: RabbitMqPublisherOptions): Settings {
  const invalid = (field: string, reason: string) => new ValidationError([{ field: `options.${field}`, reason }]);
  if (options.url === undefined || options.url === '') throw invalid('url', 'must name the broker: amqp://user:password@host:5672/vhost');
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalid('timeoutMs', 'must be a number of milliseconds above 0');
  const max = options.maxMessageBytes;
  if (max !== undefined && (!Number.isInteger(max) || max <= 0)) throw invalid('maxMessageBytes', 'must be a whole number of bytes above 0');
  const exchange = options.exchange ?? 'annals';
  // The default exchange ('') is a direct one, and cannot be declared.
  if (exchange === '') throw invalid('exchange', 'must name a topic exchange');
  return {
    url: options.url,
    socketOptions: options.socketOptions ?? {},
    exchange,
    exchangeOptions: options.exchangeOptions ?? {},
    routingKey: options.routingKey,
    timeoutMs,
    maxMessageBytes: max,
  };
}
