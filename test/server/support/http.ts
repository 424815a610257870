import { request as httpRequest } from 'node:http';
import { onTestFinished } from 'vitest';
import { createService, type Service } from '../../../src/server/create-service.js';
import type { ServiceOptions } from '../../../src/server/service-options.js';

/** An answer as the tests look at it: the status, the headers, the body parsed when JSON. */
export interface Answer<Body = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: Body;
}

/**
 * A service listening on a free port of 127.0.0.1, closed when the test ends (call it in
 * a test). Quiet unless the test gives a logger: the suite's output is the tests'.
 */
export async function startService(options: ServiceOptions): Promise<Service & { url: string }> {
  const service = await createService({ logger: 'silent', ...options });
  onTestFinished(() => service.close());
  await service.listen({ port: 0 });
  return service as Service & { url: string };
}

/** POSTs `body` to /graphql: an object is sent as JSON, a string as it is (malformed JSON, say). */
export async function postGraphQL<Body = GraphQLAnswer>(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<Body>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Body };
}

/** GETs a path of the service and parses its JSON answer. */
export async function getJson<Body = Record<string, unknown>>(url: string, path: string): Promise<Answer<Body>> {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Body };
}

/** What /graphql answers: data and errors, each error with its `extensions.code`. */
export interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: {
    message: string;
    path?: (string | number)[];
    locations?: { line: number; column: number }[];
    extensions: { code: string; [key: string]: unknown };
  }[];
}

/**
 * Sends the headers of a request announcing `contentLength` bytes and only the first of
 * them, then waits for the answer: a client uploading too slowly (or stalling) must get
 * an answer too. node:http, because fetch only sends a body it has whole.
 */
export function stalledUpload(url: string, contentLength: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(contentLength) },
    });
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.write('{');
  });
}
