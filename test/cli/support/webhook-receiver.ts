import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/** The body of a webhook publish, as much of it as these tests read. */
export interface ReceivedMessage {
  key: string;
  data: { n: number };
}

export interface WebhookReceiver {
  /** Where to publish (the path is not checked). */
  readonly url: string;
  /** What it accepted (200), in the order it came. */
  readonly received: ReceivedMessage[];
  /** Keys it answers 400 for: not retryable, so the relay parks them at once. */
  readonly refused: Set<string>;
}

/** An HTTP receiver for an outbox's webhook publisher on a free port, closed after the file. Call at the top level. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedMessage[] = [];
  const refused = new Set<string>();
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const message = JSON.parse(body) as ReceivedMessage;
      if (refused.has(message.key)) return void response.writeHead(400).end('refused');
      received.push(message);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  afterAll(() => new Promise<void>((done) => server.close(() => done())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, refused };
}
