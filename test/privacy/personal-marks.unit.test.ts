import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ValidationIssue } from '../../src/errors.js';
import { personalFieldsOf } from '../../src/privacy/personal-fields.js';

// A personal mark Annals cannot honour must be refused when the schema is defined: ignored,
// it would leave the value in plaintext in the log for good (issue 16, part 3).

const email = () => z.string().meta({ personal: true });
const marksOf = (schema: z.ZodType) => {
  const issues: ValidationIssue[] = [];
  const fields = personalFieldsOf(schema, 'events.Joined', issues);
  return { fields: fields.map((field) => field.field), issues: issues.map((issue) => issue.field) };
};

describe('personal marks', () => {
  it('honours top-level fields, through optional, nullable and default', () => {
    const schema = z.object({ id: z.string(), email: email(), name: z.string().meta({ personal: true }).optional(), nick: email().nullable().default(null) }).meta({ dataSubject: 'id' });
    expect(marksOf(schema)).toEqual({ fields: ['email', 'name', 'nick'], issues: [] });
  });

  it.each([
    ['a nested object', z.object({ id: z.string(), contact: z.object({ email: email() }) }), ['events.Joined.contact.email']],
    ['an array element', z.object({ id: z.string(), emails: z.array(email()) }), ['events.Joined.emails[]']],
    ['a union of objects', z.union([z.object({ id: z.string(), email: email() }), z.object({ id: z.number() })]), ['events.Joined(options 0).email']],
    [
      'a discriminated union',
      z.discriminatedUnion('kind', [z.object({ kind: z.literal('a'), id: z.string(), email: email() }), z.object({ kind: z.literal('b'), id: z.string() })]),
      ['events.Joined(options 0).email'],
    ],
    ['an intersection', z.intersection(z.object({ id: z.string() }), z.object({ email: email() })), ['events.Joined.email']],
    ['a preprocess', z.preprocess((value) => value, z.object({ id: z.string(), email: email() })), ['events.Joined.email']],
    ['a record value', z.object({ id: z.string(), byLabel: z.record(z.string(), email()) }), ['events.Joined.byLabel']],
  ])('refuses one inside %s, naming where', (_what, schema, where) => {
    const { issues } = marksOf((schema as z.ZodType).meta({ dataSubject: 'id' }));
    expect(issues).toEqual(where);
  });
});
