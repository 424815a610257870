import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsPublisher, type NatsPublisher } from '../../../src/outbox/publishers/index.js';
import { eventually } from '../../setup/eventually.js';
import { outboxMessage, rejectionOf } from './support/messages.js';
import { startPrivateNats, type PrivateNats } from '../support/private-nats.js';

// A nats-server of this file's own, killed and restarted by the tests; a small
// max_payload so that "too large" needs no megabytes.
const maxPayload = 4096;
let nats: PrivateNats;
const publishers: NatsPublisher[] = [];

function publisherFor(options: Partial<Parameters<typeof natsPublisher>[0]> = {}): NatsPublisher {
  const made = natsPublisher({ servers: nats.url, timeoutMs: 500, connectOptions: { reconnectTimeWait: 100 }, ...options });
  publishers.push(made);
  return made;
}

async function storedMessages(stream = 'ANNALS'): Promise<number> {
  const connection = await connect({ servers: nats.url });
  try {
    return (await (await jetstreamManager(connection)).streams.info(stream)).state.messages;
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  nats = await startPrivateNats({ maxPayload });
});

afterAll(async () => {
  await Promise.all(publishers.map((publisher) => publisher.close()));
  await nats?.stop();
});

describe('natsPublisher when the server fails', () => {
  it('fails retryable while the server is down, and publishes once it is back; nothing stored is lost', async () => {
    const publisher = publisherFor();
    const before = outboxMessage();
    await publisher.publish(before);

    await nats.kill();
    const whileDown = outboxMessage();
    const error = await rejectionOf(publisher.publish(whileDown));
    expect(error).toMatchObject({ code: 'ANNALS_PUBLISH', retryable: true, messageId: whileDown.id });

    await nats.start();
    // The client reconnects by itself; the relay's next attempt goes through. The attempt
    // that timed out may have been sent too, from the client's reconnect buffer: its
    // Nats-Msg-Id makes JetStream keep one copy.
    await eventually(() => publisher.publish(whileDown), 20_000);
    expect(await storedMessages()).toBe(2);
  });

  it('stores a message retried after a server restart once: the duplicate window survives it', async () => {
    const publisher = publisherFor();
    const message = outboxMessage();
    const count = await storedMessages();
    await publisher.publish(message);

    await nats.kill();
    await nats.start();
    await eventually(() => publisher.publish(message), 20_000);

    expect(await storedMessages()).toBe(count + 1);
  });

  it('fails retryable when the server is not there at the first publish, and connects on a later one', async () => {
    await nats.kill();
    const publisher = publisherFor();
    const message = outboxMessage();

    const error = await rejectionOf(publisher.publish(message));
    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('setting up NATS') });

    await nats.start();
    await eventually(() => publisher.publish(message), 20_000);
  });

  it('refuses an envelope over the server max_payload, not retryable, and goes on with the next', async () => {
    const publisher = publisherFor();

    const error = await rejectionOf(publisher.publish(outboxMessage({ payload: { text: 'x'.repeat(maxPayload) } })));

    expect(error).toMatchObject({ retryable: false, reason: expect.stringContaining(`max_payload of ${maxPayload}`) });
    await publisher.publish(outboxMessage());
  });

  it('closes without hanging while the server is down', async () => {
    const publisher = publisherFor();
    await publisher.publish(outboxMessage());
    await nats.kill();

    await publisher.close();

    await nats.start();
  });
});
