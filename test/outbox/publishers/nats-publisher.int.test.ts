import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublishError, ValidationError } from '../../../src/errors.js';
import { parseEnvelope, toEnvelope } from '../../../src/outbox/envelope.js';
import { natsPublisher, type NatsPublisher } from '../../../src/outbox/publishers/index.js';
import { outboxMessage, rejectionOf, uniqueSuffix } from './support/messages.js';

// The shared server of the test machine; this file's subjects and streams carry its own suffix.
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const suffix = uniqueSuffix();
const prefix = `annals_test_${suffix}`;
const streamName = `ANNALS_TEST_${suffix.toUpperCase()}`;

let connection: NatsConnection;
let manager: JetStreamManager;
const publishers: NatsPublisher[] = [];
const streams = new Set<string>();

function publisherFor(options: Partial<Parameters<typeof natsPublisher>[0]> = {}): NatsPublisher {
  const made = natsPublisher({ servers: natsUrl, prefix, stream: { name: streamName }, ...options });
  publishers.push(made);
  return made;
}

beforeAll(async () => {
  connection = await connect({ servers: natsUrl });
  manager = await jetstreamManager(connection);
  streams.add(streamName);
});

afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close()));
  for (const name of streams) await manager.streams.delete(name).catch(() => {});
  await connection.close();
});

describe('natsPublisher against JetStream', () => {
  it('creates the stream over <prefix>.> and publishes to <prefix>.<category>.<type> with Nats-Msg-Id, the envelope as body', async () => {
    const publisher = publisherFor();
    const message = outboxMessage();

    await publisher.publish(message);

    const info = await manager.streams.info(streamName);
    expect(info.config.subjects).toEqual([`${prefix}.>`]);
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
    expect(info.config.storage).toBe('file');
    const stored = await manager.streams.getMessage(streamName, { last_by_subj: `${prefix}.post.PostLiked` });
    expect(stored?.subject).toBe(`${prefix}.post.PostLiked`);
    expect(stored?.header.get('Nats-Msg-Id')).toBe(message.id);
    expect(stored?.header.get('annals-key')).toBe(message.key);
    expect(stored?.header.get('annals-position')).toBe('42');
    expect(stored?.header.get('annals-correlation-id')).toBe(message.correlationId);
    expect(parseEnvelope(stored!.data)).toEqual(toEnvelope(message));
  });

  it('stores a message once when it is published again with the same id (JetStream answers duplicate)', async () => {
    const publisher = publisherFor();
    const message = outboxMessage({ category: 'dedupe' });

    await publisher.publish(message);
    await publisher.publish(message);
    await publisher.publish({ ...message, position: '43' });

    const acks = await jetstream(connection).publish(`${prefix}.dedupe.PostLiked`, 'x', { msgID: message.id });
    expect(acks.duplicate).toBe(true);
    const subjects = (await manager.streams.info(streamName, { subjects_filter: `${prefix}.dedupe.>` })).state.subjects;
    expect(subjects).toEqual({ [`${prefix}.dedupe.PostLiked`]: 1 });
  });

  it('turns spaces, dots, * and > inside a category or type into _, one token each', async () => {
    const publisher = publisherFor();
    const message = outboxMessage({ category: 'order line', type: 'v1.placed*>' });

    expect(publisher.subjectOf(message)).toBe(`${prefix}.order_line.v1_placed__`);
    await publisher.publish(message);

    const stored = await manager.streams.getMessage(streamName, { last_by_subj: `${prefix}.order_line.v1_placed__` });
    expect(parseEnvelope(stored!.data).type).toBe('v1.placed*>');
  });

  it('publishes to the subject a subject function gives', async () => {
    const publisher = publisherFor({ subject: (message) => `${prefix}.custom.${message.key}` });
    const message = outboxMessage({ key: 'k1' });

    await publisher.publish(message);

    const stored = await manager.streams.getMessage(streamName, { last_by_subj: `${prefix}.custom.k1` });
    expect(stored?.header.get('Nats-Msg-Id')).toBe(message.id);

    const throwing = publisherFor({
      subject: () => {
        throw new Error('no subject for this one');
      },
    });
    const error = await rejectionOf(throwing.publish(outboxMessage()));
    expect(error).toMatchObject({ retryable: false, reason: 'the subject function threw: no subject for this one' });
  });

  it('uses a stream created beforehand as it is', async () => {
    const ownPrefix = `${prefix}_own`;
    const ownStream = `${streamName}_OWN`;
    streams.add(ownStream);
    await manager.streams.add({ name: ownStream, subjects: [`${ownPrefix}.>`], storage: 'memory' as never, max_age: 60_000_000_000 });
    const publisher = publisherFor({ prefix: ownPrefix, stream: { name: ownStream, storage: 'file' } });

    await publisher.publish(outboxMessage());

    const info = await manager.streams.info(ownStream);
    expect(info.config.storage).toBe('memory');
    expect(info.state.messages).toBe(1);
  });

  it('publishes into another stream that already captures the subjects', async () => {
    const sharedPrefix = `${prefix}_shared`;
    const otherStream = `${streamName}_OTHER`;
    streams.add(otherStream).add(`${streamName}_UNUSED`);
    await manager.streams.add({ name: otherStream, subjects: [`${sharedPrefix}.post.>`] });
    const publisher = publisherFor({ prefix: sharedPrefix, stream: { name: `${streamName}_UNUSED` } });

    await publisher.publish(outboxMessage());

    expect((await manager.streams.info(otherStream)).state.messages).toBe(1);
    await expect(manager.streams.info(`${streamName}_UNUSED`)).rejects.toThrow(/stream not found/);
  });

  it('creates the stream again when it was deleted: the publish that finds none fails retryable, the next goes through', async () => {
    const deletedPrefix = `${prefix}_deleted`;
    const deletedStream = `${streamName}_DELETED`;
    streams.add(deletedStream);
    const publisher = publisherFor({ prefix: deletedPrefix, stream: { name: deletedStream }, timeoutMs: 2000 });
    await publisher.publish(outboxMessage());

    await manager.streams.delete(deletedStream);
    const error = await rejectionOf(publisher.publish(outboxMessage()));
    expect(error).toMatchObject({ retryable: true });

    await publisher.publish(outboxMessage());
    expect((await manager.streams.info(deletedStream)).state.messages).toBe(1);
  });

  it('with stream: false and no stream for the subject, fails retryable: no stream answered', async () => {
    const publisher = publisherFor({ prefix: `${prefix}_nostream`, stream: false, timeoutMs: 2000 });

    const error = await rejectionOf(publisher.publish(outboxMessage()));

    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ code: 'ANNALS_PUBLISH', retryable: true, destination: 'likes', reason: expect.stringContaining('no JetStream stream answered') });
  });

  it('refuses a message over the stream max_msg_size, not retryable', async () => {
    const limitedPrefix = `${prefix}_limited`;
    const limitedStream = `${streamName}_LIMITED`;
    streams.add(limitedStream);
    const publisher = publisherFor({ prefix: limitedPrefix, stream: { name: limitedStream, config: { max_msg_size: 1024 } } });

    const error = await rejectionOf(publisher.publish(outboxMessage({ payload: { text: 'x'.repeat(2000) } })));

    expect(error).toMatchObject({ retryable: false, reason: expect.stringContaining('max_msg_size') });
    await publisher.publish(outboxMessage());
  });

  it('fails retryable while the stream is full (discard new), and publishes once there is room', async () => {
    const fullPrefix = `${prefix}_full`;
    const fullStream = `${streamName}_FULL`;
    streams.add(fullStream);
    const publisher = publisherFor({ prefix: fullPrefix, stream: { name: fullStream, config: { max_msgs: 1, discard: 'new' as never } } });
    await publisher.publish(outboxMessage());

    const error = await rejectionOf(publisher.publish(outboxMessage()));
    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('maximum messages exceeded') });

    await manager.streams.purge(fullStream);
    await publisher.publish(outboxMessage());
  });

  it('connects and creates the stream on ready(), before any publish', async () => {
    const readyStream = `${streamName}_READY`;
    streams.add(readyStream);
    const publisher = publisherFor({ prefix: `${prefix}_ready`, stream: { name: readyStream, duplicateWindowMs: 30_000 } });

    await publisher.ready();

    expect((await manager.streams.info(readyStream)).config.duplicate_window).toBe(30_000 * 1_000_000);
  });

  it('fails retryable when the relay aborts the publish', async () => {
    const publisher = publisherFor();
    const controller = new AbortController();
    controller.abort(new Error('relay stopping'));

    const error = await rejectionOf(publisher.publish(outboxMessage(), { signal: controller.signal }));

    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('aborted') });
  });

  it('after close(), refuses to publish (retryable: another relay may)', async () => {
    const publisher = publisherFor();
    await publisher.publish(outboxMessage());
    await publisher.close();

    const error = await rejectionOf(publisher.publish(outboxMessage()));

    expect(error).toMatchObject({ retryable: true, reason: 'the NATS publisher is closed' });
  });

  it('publishes over a connection of the caller, which close() leaves open', async () => {
    const own = await connect({ servers: natsUrl });
    const publisher = natsPublisher({ connection: own, prefix, stream: { name: streamName } });

    await publisher.publish(outboxMessage());
    await publisher.close();

    expect(own.isClosed()).toBe(false);
    await own.close();
  });

  it('refuses options it cannot use, naming them', () => {
    const optionError = (options: Parameters<typeof natsPublisher>[0]) => {
      try {
        natsPublisher(options);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error('expected a ValidationError');
    };
    expect(optionError({ prefix })).toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.servers' });
    expect(optionError({ servers: natsUrl, prefix: 'a..b' })).toMatchObject({ field: 'options.prefix' });
    expect(optionError({ servers: natsUrl, prefix: 'a.*' })).toMatchObject({ field: 'options.prefix' });
    expect(optionError({ servers: natsUrl, stream: { name: 'A.B' } })).toMatchObject({ field: 'options.stream.name' });
    expect(optionError({ servers: natsUrl, timeoutMs: 0 })).toMatchObject({ field: 'options.timeoutMs' });
  });
});
