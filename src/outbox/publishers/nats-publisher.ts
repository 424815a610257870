/**
 * Publishes outbox messages to NATS JetStream (the default publisher; docs/publishers.md).
 * The client packages are optional peers, loaded on the first publish.
 */
import type { JetStreamClient, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { PublishError, ValidationError } from '../../errors.js';
import { loadOptionalPackage } from '../../server/security/optional-package.js';
import { encodeEnvelope } from '../envelope.js';
import type { OutboxMessage, Publisher } from '../message.js';
import { classifyNatsError } from './nats-errors.js';
import { awaitAnswer, describeError, messageHeaders, nameOf, publishError, routingToken } from './publish-support.js';

export interface NatsPublisherOptions {
  /** The servers to connect to (`nats://127.0.0.1:4222`). Give this or `connection`. */
  servers?: string | string[];
  /** Everything else `connect` takes (user, pass, token, tls, name...). */
  connectOptions?: Omit<NodeConnectionOptions, 'servers'>;
  /** A connection of your own, used as it is: `close()` leaves it open. */
  connection?: NatsConnection;
  /** The first tokens of every subject; may hold dots (`acme.annals`). Default `annals`. */
  prefix?: string;
  /** Replaces the default subject `<prefix>.<category>.<type>`. */
  subject?: (message: OutboxMessage) => string;
  /** The stream created when missing, or `false` to leave streams to your own tooling. */
  stream?: NatsStreamOptions | false;
  /** How long to wait for each JetStream ack. Default 5000. */
  timeoutMs?: number;
}

export interface NatsStreamOptions {
  /** Default: the prefix in capitals, other characters as `_` (`ANNALS`). */
  name?: string;
  /** Default `[<prefix>.>]`. */
  subjects?: string[];
  /**
   * How long JetStream remembers message ids to drop duplicates. Default 120000 (two
   * minutes, the server's default). A retry later than this is stored twice, so the
   * receiver's inbox must absorb it.
   */
  duplicateWindowMs?: number;
  /** Default `file`: `memory` streams lose messages when the server restarts. */
  storage?: 'file' | 'memory';
  /** Default 1. */
  replicas?: number;
  /** Any other stream setting, in JetStream's own names (`max_age`, `max_bytes`...). */
  config?: Partial<StreamConfig>;
}

/** The NATS publisher: a {@link Publisher} that can also connect ahead of the first publish. */
export interface NatsPublisher extends Publisher {
  readonly kind: 'nats';
  /** The subject `message` goes to. */
  subjectOf(message: OutboxMessage): string;
  /**
   * Connects and creates the stream now rather than on the first publish, so a service
   * can fail at start. Rejects with the client's error (ValidationError when a package is
   * missing).
   */
  ready(): Promise<void>;
}

/**
 * Publishes each message to `<prefix>.<category>.<type>` with `Nats-Msg-Id` set to the
 * message's id, and resolves once JetStream acknowledges it (a `duplicate` ack too: an
 * earlier attempt got through). Connects on the first publish, then the client
 * reconnects by itself; the stream is created if missing.
 *
 * @throws ValidationError naming the option at fault.
 * @example
 * ```ts
 * const publisher = natsPublisher({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
 * await publisher.publish(message); // subject annals.post.PostLiked
 * await publisher.close();
 * ```
 */
export function natsPublisher(options: NatsPublisherOptions): NatsPublisher {
  return new NatsJetStreamPublisher(checkOptions(options));
}

const utf8 = new TextEncoder();

/**
 * Fills a new header set with `message`'s headers and its id as `Nats-Msg-Id` (JetStream
 * drops a message whose id it saw within the stream's duplicate window). `append`, not
 * `set`, which first looks for the name to delete it (measured: a quarter of the relay's
 * allocations went to headers); the id goes in here rather than through js.publish's
 * `msgID`, which would `set` it again.
 */
export function fillNatsHeaders(headers: MsgHdrs, message: OutboxMessage): MsgHdrs {
  const fields = messageHeaders(message);
  for (const name in fields) headers.append(name, fields[name]!);
  headers.append('Nats-Msg-Id', message.id);
  return headers;
}

interface Settings {
  servers: string[] | undefined;
  connectOptions: Omit<NodeConnectionOptions, 'servers'>;
  connection: NatsConnection | undefined;
  prefix: string;
  subject: ((message: OutboxMessage) => string) | undefined;
  stream: Partial<StreamConfig> & { name: string } | false;
  timeoutMs: number;
}

interface Session {
  connection: NatsConnection;
  js: JetStreamClient;
  headers: typeof import('@nats-io/transport-node').headers;
  /** Creates the stream if missing; memoized until a publish finds no stream answering. */
  stream: Promise<void> | undefined;
  ensureStream: () => Promise<void>;
}

class NatsJetStreamPublisher implements NatsPublisher {
  readonly kind = 'nats';
  readonly #settings: Settings;
  #session: Promise<Session> | undefined;
  /** The session of #session once its stream is ready; unset whenever either is not. */
  #live: Session | undefined;
  readonly #subjects = new Map<string, string>();
  #closed = false;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  subjectOf(message: OutboxMessage): string {
    const custom = this.#settings.subject;
    if (custom) return custom(message);
    // Few categories and types, many messages: each subject is made once (the cache is
    // emptied past 1,000, since a written message's key may make a category of its own).
    const cacheKey = `${message.category}\u0000${message.type}`;
    let subject = this.#subjects.get(cacheKey);
    if (subject === undefined) {
      if (this.#subjects.size >= 1000) this.#subjects.clear();
      subject = `${this.#settings.prefix}.${routingToken(message.category)}.${routingToken(message.type)}`;
      this.#subjects.set(cacheKey, subject);
    }
    return subject;
  }

  async ready(): Promise<void> {
    await this.#ready(await this.#open());
  }

  async publish(message: OutboxMessage, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) throw publishError(message, 'the NATS publisher is closed', true);
    const subject = nameOf(message, 'subject', () => this.subjectOf(message));
    // Once set up, the session is at hand without a wait: no promise per message for it.
    const session = this.#live ?? (await awaitAnswer(message, this.#setUp(message), { signal: options.signal, waitingFor: 'a connection to NATS' }));
    const body = utf8.encode(encodeEnvelope(message));
    const maxPayload = session.connection.info?.max_payload;
    if (maxPayload !== undefined && body.byteLength > maxPayload) {
      throw publishError(message, `${subject}: the envelope is ${body.byteLength} bytes, over the server's max_payload of ${maxPayload}`, false);
    }
    const headers = fillNatsHeaders(session.headers(), message);
    try {
      const published = session.js.publish(subject, body, { headers, timeout: this.#settings.timeoutMs });
      // `duplicate: true` is success: JetStream already holds this id from an earlier
      // attempt whose ack was lost, and stored it once.
      await awaitAnswer(message, published, { signal: options.signal, waitingFor: 'the JetStream ack' });
    } catch (error) {
      if (error instanceof PublishError) throw error;
      const failure = classifyNatsError(error);
      // No stream answered: it may have been deleted. Create it again on the next publish.
      if ((error as Error).name === 'JetStreamNotEnabled') {
        session.stream = undefined;
        this.#live = undefined;
      }
      throw publishError(message, `${subject}: ${failure.reason}`, failure.retryable, error);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#session;
    this.#session = undefined;
    this.#live = undefined;
    if (opening === undefined || this.#settings.connection !== undefined) return;
    const session = await opening.catch(() => undefined);
    if (session === undefined || session.connection.isClosed()) return;
    // drain() flushes what is buffered; it fails when the server is gone, and then
    // there is nothing left to flush.
    await session.connection.drain().catch(() => session.connection.close());
  }

  /** The session with its stream ready, failures as retryable PublishErrors: none is the message's fault. */
  async #setUp(message: OutboxMessage): Promise<Session> {
    try {
      const opening = this.#open();
      const session = await opening;
      await this.#ready(session);
      // Only if it is still the current session (not closed or replaced meanwhile).
      if (this.#session === opening && !this.#closed) this.#live = session;
      return session;
    } catch (error) {
      throw publishError(message, `setting up NATS: ${describeError(error)}`, true, error);
    }
  }

  async #ready(session: Session): Promise<void> {
    session.stream ??= session.ensureStream().catch((error: unknown) => {
      session.stream = undefined;
      throw error;
    });
    await session.stream;
  }

  #open(): Promise<Session> {
    if (this.#session !== undefined) return this.#session;
    const opening: Promise<Session> = this.#connect().then(
      (session) => {
        // A connection closed for good (by the server, or by hand) is replaced on the next publish.
        void session.connection.closed().then(() => {
          if (this.#session === opening) this.#session = undefined;
          if (this.#live === session) this.#live = undefined;
        });
        return session;
      },
      (error: unknown) => {
        if (this.#session === opening) this.#session = undefined;
        throw error;
      },
    );
    this.#session = opening;
    return opening;
  }

  async #connect(): Promise<Session> {
    const { connection: given, servers, connectOptions, stream, timeoutMs } = this.#settings;
    const transport = await loadOptionalPackage('@nats-io/transport-node', 'natsPublisher', () => import('@nats-io/transport-node'));
    const { jetstream, jetstreamManager } = await loadOptionalPackage('@nats-io/jetstream', 'natsPublisher', () => import('@nats-io/jetstream'));
    // The client retries for ever by default here, so a server outage never closes the
    // connection for good: publishes time out (retryable) until it is back.
    // noAsyncTraces: the client would otherwise make two Error objects (with stacks) per
    // publish to say where a request began; a failure reaches the relay as a PublishError
    // naming the message anyway. Measured: docs/benchmarks.md, "Issue 15".
    const connection =
      given ?? (await transport.connect({ name: 'annals-outbox', maxReconnectAttempts: -1, noAsyncTraces: true, ...connectOptions, servers: servers ?? [] }));
    if (this.#closed && given === undefined) {
      await connection.close();
      throw new Error('the NATS publisher was closed while connecting');
    }
    const session: Session = {
      connection,
      js: jetstream(connection, { timeout: timeoutMs }),
      headers: transport.headers,
      stream: undefined,
      ensureStream: async () => {
        if (stream !== false) await ensureStream(await jetstreamManager(connection, { timeout: timeoutMs }), stream);
      },
    };
    return session;
  }
}

const apiCodes = { streamNameInUse: 10058, subjectsOverlap: 10065 } as const;

/**
 * Creates the stream unless a stream of that name exists (left as it is: its settings
 * are the operator's). A stream of another name already capturing the subjects is used as
 * it is, since JetStream stores each subject in one stream only.
 */
async function ensureStream(manager: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await manager.streams.info(config.name);
    return;
  } catch (error) {
    if ((error as Error).name !== 'StreamNotFoundError') throw error;
  }
  try {
    await manager.streams.add(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // Another relay created it at the same moment, or another stream captures the subjects.
    if (code === apiCodes.streamNameInUse || code === apiCodes.subjectsOverlap) return;
    throw error;
  }
}

function checkOptions(options: NatsPublisherOptions): Settings {
  const invalid = (field: string, reason: string) => new ValidationError([{ field: `options.${field}`, reason }]);
  if ((options.servers === undefined) === (options.connection === undefined)) throw invalid('servers', 'give either servers or connection');
  const prefix = options.prefix ?? 'annals';
  if (!isSubject(prefix)) throw invalid('prefix', `'${prefix}' is not a NATS subject: dot-separated tokens, none empty, without spaces, '*' or '>'`);
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalid('timeoutMs', 'must be a number of milliseconds above 0');
  return {
    servers: typeof options.servers === 'string' ? [options.servers] : options.servers,
    connectOptions: options.connectOptions ?? {},
    connection: options.connection,
    prefix,
    subject: options.subject,
    stream: options.stream === false ? false : streamConfig(prefix, options.stream ?? {}, invalid),
    timeoutMs,
  };
}

function streamConfig(prefix: string, options: NatsStreamOptions, invalid: (field: string, reason: string) => Error): Partial<StreamConfig> & { name: string } {
  const name = options.name ?? prefix.toUpperCase().replace(/[^A-Za-z0-9_-]/g, '_');
  if (name === '' || /[\s.*>/\\]/.test(name)) throw invalid('stream.name', `'${name}' is not a stream name: no spaces, '.', '*', '>', '/' or '\\'`);
  const duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
  if (!Number.isInteger(duplicateWindowMs) || duplicateWindowMs <= 0) throw invalid('stream.duplicateWindowMs', 'must be a whole number of milliseconds above 0');
  return {
    ...options.config,
    name,
    subjects: options.subjects ?? [`${prefix}.>`],
    duplicate_window: duplicateWindowMs * 1_000_000,
    storage: options.storage ?? 'file',
    num_replicas: options.replicas ?? 1,
  };
}

function isSubject(subject: string): boolean {
  return subject.split('.').every((token) => token !== '' && !/[\s*>]/.test(token));
}
