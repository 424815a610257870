import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { ErrorCodes } from '../src/index.js';

// Every code is declared once in src/errors.ts and explained in docs/errors.md: a code
// added to one and not the other fails here.
it('docs/errors.md lists exactly the error codes Annals declares', async () => {
  const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `(ANNALS_[A-Z_]+)` \|/gm)].map((match) => match[1]);
  const declared = Object.values(ErrorCodes);
  expect(new Set(declared).size).toBe(declared.length);
  expect([...documented].sort()).toEqual([...declared].sort());
});
