import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PublishError, ValidationError } from '../../../src/errors.js';
import { toEnvelope } from '../../../src/outbox/envelope.js';
import { verifyWebhook, webhookPublisher } from '../../../src/outbox/publishers/index.js';
import { outboxMessage, rejectionOf } from './support/messages.js';

const secret = 'whsec-test-secret';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

// A real HTTP endpoint on a free port; each test says how it answers.
let server: Server;
let baseUrl: string;
let received: Received[] = [];
let answer: (response: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      answer(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  received = [];
  answer = (response) => response.writeHead(204).end();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const status = (code: number, body = '') => (response: ServerResponse) => response.writeHead(code, { 'content-type': 'text/plain' }).end(body);

describe('webhookPublisher against an HTTP endpoint', () => {
  it('POSTs the envelope as JSON, signed: the receiver verifies it and gets the envelope', async () => {
    const publisher = webhookPublisher({ url: `${baseUrl}/hooks/annals`, secret, headers: { 'x-api-key': 'k1' } });
    const message = outboxMessage();

    await publisher.publish(message);

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.path).toBe('/hooks/annals');
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      'annals-message-id': message.id,
      'annals-timestamp': expect.stringMatching(/^\d+$/),
      'annals-signature': expect.stringMatching(/^v1=[0-9a-f]{64}$/),
      'x-api-key': 'k1',
    });
    expect(verifyWebhook({ secret, body: request!.body, headers: request!.headers })).toEqual(toEnvelope(message));
  });

  it('the verifier refuses a tampered body, another secret, and an old timestamp (a replay), naming the header', async () => {
    const publisher = webhookPublisher({ url: baseUrl, secret });
    await publisher.publish(outboxMessage());
    const { body, headers } = received[0]!;
    const refusal = (input: Parameters<typeof verifyWebhook>[0]) => {
      try {
        verifyWebhook(input);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error('expected a ValidationError');
    };

    const tampered = Buffer.from(body.toString().replace('"ada"', '"eve"'));
    expect(refusal({ secret, body: tampered, headers })).toMatchObject({ code: 'ANNALS_VALIDATION', field: 'headers.annals-signature' });
    expect(refusal({ secret: 'another', body, headers })).toMatchObject({ field: 'headers.annals-signature' });
    const later = new Date((Number(headers['annals-timestamp']) + 301) * 1000);
    expect(refusal({ secret, body, headers, now: later })).toMatchObject({ field: 'headers.annals-timestamp', reason: expect.stringContaining('301 s old') });
    // The timestamp is signed: moving it forward breaks the signature.
    const moved = { ...headers, 'annals-timestamp': String(Number(headers['annals-timestamp']) + 301) };
    expect(refusal({ secret, body, headers: moved, now: later })).toMatchObject({ field: 'headers.annals-signature' });
    // During a rotation the old secret still verifies.
    expect(verifyWebhook({ secret: ['new-secret', secret], body: body.toString(), headers }).data).toEqual({ postId: expect.any(String), by: 'ada' });
  });

  it('counts 2xx as success, 408, 429 and 5xx as retryable, other 4xx and 3xx as not', async () => {
    const publisher = webhookPublisher({ url: baseUrl, secret });
    const outcome = async (respond: (response: ServerResponse) => void) => {
      answer = respond;
      try {
        await publisher.publish(outboxMessage());
        return 'ok';
      } catch (error) {
        expect(error).toBeInstanceOf(PublishError);
        return (error as PublishError).retryable ? 'retryable' : 'not retryable';
      }
    };

    expect(await outcome(status(200))).toBe('ok');
    expect(await outcome(status(202))).toBe('ok');
    expect(await outcome(status(500, 'database down'))).toBe('retryable');
    expect(await outcome(status(503))).toBe('retryable');
    expect(await outcome(status(429))).toBe('retryable');
    expect(await outcome(status(408))).toBe('retryable');
    expect(await outcome(status(400, 'unknown type'))).toBe('not retryable');
    expect(await outcome(status(404))).toBe('not retryable');
    expect(await outcome((response) => response.writeHead(302, { location: '/elsewhere' }).end())).toBe('not retryable');
    expect(received).toHaveLength(9);
  });

  it("quotes the endpoint's answer in the error", async () => {
    answer = status(422, 'postId: unknown post');
    const publisher = webhookPublisher({ url: `${baseUrl}/in`, secret });

    const error = await rejectionOf(publisher.publish(outboxMessage()));

    expect(error).toMatchObject({ retryable: false, reason: `POST ${baseUrl}/in: answered 422: postId: unknown post` });
  });

  it('fails retryable when no answer comes in time', async () => {
    answer = () => {};
    const publisher = webhookPublisher({ url: baseUrl, secret, timeoutMs: 200 });

    const error = await rejectionOf(publisher.publish(outboxMessage()));

    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('no answer within 200 ms') });
  });

  it('fails retryable when nothing listens at the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const publisher = webhookPublisher({ url: `http://127.0.0.1:${port}/`, secret });

    const error = await rejectionOf(publisher.publish(outboxMessage()));

    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('request failed') });
  });

  it('fails retryable when the relay aborts the publish', async () => {
    answer = () => {};
    const publisher = webhookPublisher({ url: baseUrl, secret });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    const error = await rejectionOf(publisher.publish(outboxMessage(), { signal: controller.signal }));

    expect(error).toMatchObject({ retryable: true, reason: expect.stringContaining('aborted') });
  });

  it('POSTs to the URL a function of the message gives; a bad one is not retryable', async () => {
    const publisher = webhookPublisher({ url: (message) => `${baseUrl}/by-category/${message.category}`, secret });
    await publisher.publish(outboxMessage({ category: 'order' }));
    expect(received.map((request) => request.path)).toEqual(['/by-category/order']);

    const broken = webhookPublisher({ url: () => 'ftp://example.com/', secret });
    const error = await rejectionOf(broken.publish(outboxMessage()));
    expect(error).toMatchObject({ retryable: false, reason: expect.stringContaining('not an http(s) URL') });
  });

  it('refuses options it cannot use, naming them', () => {
    const optionError = (options: Parameters<typeof webhookPublisher>[0]) => {
      try {
        webhookPublisher(options);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error('expected a ValidationError');
    };
    expect(optionError({ url: 'not a url', secret })).toMatchObject({ code: 'ANNALS_VALIDATION', field: 'options.url' });
    expect(optionError({ url: baseUrl, secret: '' })).toMatchObject({ field: 'options.secret' });
    expect(optionError({ url: baseUrl, secret, timeoutMs: 0 })).toMatchObject({ field: 'options.timeoutMs' });
  });
});
