import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { securityHeaderOptions } from '../../../src/server/security/http-headers.js';
import { createTestStore } from '../../setup/database.js';
import { postGraphQL, startService } from '../support/http.js';
import { apiKeys, bearer, counterResolvers, counterSchema, writerKey } from './support/security-fixtures.js';

// CORS and security headers over real HTTP, as a browser would meet them.
const store = await createTestStore('security_headers');

const app = 'https://app.example.com';

/** A header's comma-separated values. */
const values = (header: string | null) => header?.split(',').map((value) => value.trim()) ?? [];

async function start(security: Parameters<typeof startService>[0]['security'], environment: 'development' | 'production' = 'development') {
  const service = await startService({ store, schema: counterSchema, resolvers: counterResolvers().resolvers, security, environment });
  return service.url;
}

/**
 * The headers @fastify/helmet itself sets with the service's options over ours (the same
 * route on a bare fastify app tells fastify's own headers apart): the reference, not a list.
 */
async function helmetReference(options: Record<string, unknown>): Promise<Record<string, string>> {
  const answer = async (withHelmet: boolean) => {
    const reference = Fastify();
    if (withHelmet) await reference.register(helmet, securityHeaderOptions(options));
    reference.get('/', () => ({}));
    const response = await reference.inject({ method: 'GET', url: '/' });
    await reference.close();
    return response.headers;
  };
  const [plain, helmeted] = [await answer(false), await answer(true)];
  return Object.fromEntries(Object.entries(helmeted).flatMap(([name, value]) => (name in plain ? [] : [[name, String(value)]])));
}

/** The headers of `response` named in `reference`, with the reference's absent ones as null. */
const pick = (response: { headers: Headers }, reference: Record<string, string>) =>
  Object.fromEntries(Object.keys(reference).map((name) => [name, response.headers.get(name)]));

function preflight(url: string, origin: string, headers = 'authorization, content-type, annals-min-position') {
  return fetch(`${url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  });
}

describe('CORS', () => {
  it('a preflight from a listed origin: allowed, with the Authorization and Annals-Min-Position headers', async () => {
    const url = await start({ apiKeys, cors: { origins: [app] } });
    const response = await preflight(url, app);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(app);
    expect(values(response.headers.get('access-control-allow-methods'))).toEqual(['GET', 'POST']);
    const allowed = values(response.headers.get('access-control-allow-headers'));
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'annals-min-position', 'x-request-id', 'x-correlation-id']));
    expect(response.headers.get('access-control-max-age')).toBe('600');
  });

  it('an answer exposes x-request-id to the page; an unlisted origin gets no allow-origin', async () => {
    const url = await start({ apiKeys, cors: { origins: [app] } });
    const answer = await postGraphQL(url, { query: '{ likes }' }, { origin: app });
    expect(answer.headers.get('access-control-allow-origin')).toBe(app);
    expect(values(answer.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['x-request-id', 'retry-after']));
    const other = await preflight(url, 'https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const direct = await postGraphQL(url, { query: '{ likes }' }, { origin: 'https://evil.example.com' });
    expect(direct.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a refusal carries the CORS headers too, so the page can read why', async () => {
    const url = await start({ apiKeys, cors: { origins: [app] } });
    const refused = await postGraphQL(url, { query: 'mutation { like }' }, { origin: app, authorization: 'Bearer bm90LWEta2V5LW9mLXRoaXMtc2VydmljZQ' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(app);
    expect(refused.body.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it("origins '*' allows any origin; without cors options, none", async () => {
    const any = await start({ cors: { origins: '*' } });
    expect((await preflight(any, 'https://anywhere.example')).headers.get('access-control-allow-origin')).toBe('*');
    const none = await start({});
    expect((await postGraphQL(none, { query: '{ likes }' }, { origin: app })).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('bad options name the field', async () => {
    await expect(start({ cors: { origins: ['app.example.com'] } })).rejects.toMatchObject({ field: 'options.security.cors.origins[0]' });
    await expect(start({ cors: { origins: '*', credentials: true } })).rejects.toMatchObject({
      field: 'options.security.cors',
      reason: "credentials cannot be sent to any origin ('*'): list the origins",
    });
  });
});

describe('security headers', () => {
  it('every answer has them, the API a policy that loads nothing', async () => {
    const url = await start({ apiKeys }, 'production');
    for (const response of [await fetch(`${url}/healthz`), await fetch(`${url}/graphql?query=${encodeURIComponent('{ likes }')}`)]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      // A page's headers: a JSON answer is no page.
      for (const header of ['cross-origin-opener-policy', 'origin-agent-cluster', 'referrer-policy', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection']) {
        expect(response.headers.get(header), header).toBeNull();
      }
    }
  });

  it('GraphiQL in development: served, its page without the policy that would block its scripts, the other headers kept', async () => {
    const url = await start({});
    for (const path of ['/graphiql', '/graphiql/main.js']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toBeNull();
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      // GraphiQL is a page: it gets a page's headers.
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    }
    expect((await fetch(`${url}/graphql?query=${encodeURIComponent('{ likes }')}`)).headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('headers: false leaves them off; helmet options go to helmet', async () => {
    const off = await start({ headers: false });
    expect((await fetch(`${off}/healthz`)).headers.get('x-content-type-options')).toBeNull();
    const custom = await start({ headers: { strictTransportSecurity: { maxAge: 60 } } });
    expect((await fetch(`${custom}/healthz`)).headers.get('strict-transport-security')).toBe('max-age=60; includeSubDomains');
  });

  it('with a writer key, a mutation still passes through them', async () => {
    const url = await start({ apiKeys, cors: { origins: [app] } });
    expect((await postGraphQL(url, { query: 'mutation { like }' }, { origin: app, ...bearer(writerKey.key) })).body).toEqual({ data: { like: 1 } });
  });

  it("are @fastify/helmet's own, on a GraphQL answer, /healthz, a 404 and a refusal", async () => {
    const reference = await helmetReference({});
    expect(reference['content-security-policy']).toContain("default-src 'none'");
    const url = await start({ apiKeys });
    const answers = [await fetch(`${url}/graphql?query=${encodeURIComponent('{ likes }')}`), await fetch(`${url}/healthz`), await fetch(`${url}/nowhere`)];
    expect(answers.map((response) => response.status)).toEqual([200, 200, 404]);
    for (const response of answers) expect(pick(response, reference)).toEqual(reference);
    const refused = await postGraphQL(url, { query: 'mutation { like }' }, { authorization: 'Bearer bm90LWEta2V5LW9mLXRoaXMtc2VydmljZQ' });
    expect(refused.status).toBe(401);
    expect(pick(refused, reference)).toEqual(reference);
  });

  it("GraphiQL's routes in development: helmet's own headers without a content security policy", async () => {
    const reference = await helmetReference({ contentSecurityPolicy: false });
    expect(reference['content-security-policy']).toBeUndefined();
    const url = await start({});
    for (const path of ['/graphiql', '/graphiql/main.js']) {
      const response = await fetch(`${url}${path}`);
      expect(response.headers.get('content-security-policy')).toBeNull();
      expect(pick(response, reference)).toEqual(reference);
    }
  });

  it("the caller's options are helmet's: a header turned off, another changed", async () => {
    const options = { strictTransportSecurity: false, referrerPolicy: { policy: 'same-origin' } };
    const reference = await helmetReference(options);
    const url = await start({ headers: options });
    for (const response of [await fetch(`${url}/healthz`), await fetch(`${url}/nowhere`)]) {
      expect(response.headers.get('strict-transport-security')).toBeNull();
      expect(response.headers.get('referrer-policy')).toBe('same-origin');
      expect(pick(response, reference)).toEqual(reference);
    }
  });

  it('enableCSPNonces: a new nonce on every answer', async () => {
    const url = await start({ headers: { enableCSPNonces: true } });
    const policies = [(await fetch(`${url}/healthz`)).headers.get('content-security-policy'), (await fetch(`${url}/healthz`)).headers.get('content-security-policy')];
    for (const policy of policies) expect(policy).toMatch(/default-src 'none';.*script-src 'nonce-[0-9a-f]{32}'/);
    expect(policies[0]).not.toBe(policies[1]);
    const graphiql = await fetch(`${url}/graphiql`);
    expect(graphiql.headers.get('content-security-policy')).toBeNull();
    expect(graphiql.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('options helmet refuses fail the start, naming the field', async () => {
    await expect(start({ headers: { contentSecurityPolicy: { directives: { defaultSrc: ['self'] } } } })).rejects.toMatchObject({
      field: 'options.security.headers',
      reason: expect.stringContaining('should be quoted'),
    });
  });
});
