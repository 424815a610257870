import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { bankService, documentedCurls, runDocumentedCurls } from './support/bank-service.js';

const bank = await bankService('gql_bank_docs');

// docs/graphql.md shows the bank account with curl: each command runs as written (with
// the real curl, against a listening service) and prints the answer the page shows.
it('the bank account’s curl examples in docs/graphql.md answer what the page shows', { timeout: 120_000 }, async () => {
  const url = await bank.start();
  const workers = await bank.runWorkers();
  try {
    const examples = documentedCurls(await readFile('docs/graphql.md', 'utf8'), '### Bank account');
    expect(examples.length).toBeGreaterThanOrEqual(4);
    expect(examples.some((example) => /Annals-Min-Position: \d+/.test(example.command))).toBe(true);
    expect(await runDocumentedCurls(url, examples)).toEqual(examples.map((example) => example.answer));
  } finally {
    await workers.stop();
  }
});
