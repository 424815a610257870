import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { ServiceErrorCodes } from '../../src/server/service-errors.js';

// Every code the service puts on the wire is declared once (ServiceErrorCodes) and
// explained in docs/server.md's "Error codes" table: a code added to one and not the
// other fails here.
it("docs/server.md's error code table lists exactly the codes the service declares", async () => {
  const doc = await readFile(new URL('../../docs/server.md', import.meta.url), 'utf8');
  const section = /^## Error codes\n([\s\S]*?)^## /m.exec(doc)?.[1] ?? '';
  const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
  const declared = Object.values(ServiceErrorCodes);
  expect(new Set(declared).size).toBe(declared.length);
  expect(documented).toEqual(declared);
});
