import type { z } from 'zod';
import type { ValidationIssue } from '../errors.js';
import type { PersonalData } from './personal-data.js';

/** What an erased personal string field reads as, unless its schema names another value. */
export const erasedText = '[erased]';

/** A top-level field of an event schema marked personal, with its data subject and redacted value. */
export interface PersonalField {
  field: string;
  /** The field of the same data holding the data subject's id. */
  subjectField: string;
  /** What the field reads as once its subject is forgotten: it fits the field's schema. */
  redacted: unknown;
}

/** How a field is marked: `.meta({ personal: true })`, or with its subject and redacted value. */
export type PersonalMeta = true | { subject?: string; redacted?: unknown };

type Internal = z.ZodType & { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType> } } };

const wrappers = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** The schema and every wrapper around it (optional, nullable, default…), outermost first. */
function layers(schema: z.ZodType): Internal[] {
  const found: Internal[] = [];
  let current: Internal | undefined = schema as Internal;
  while (current) {
    found.push(current);
    const def: Internal['_zod']['def'] = current._zod.def;
    current = (wrappers.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined) as Internal | undefined;
  }
  return found;
}

function metaOf(schema: z.ZodType, key: string): unknown {
  for (const layer of layers(schema)) {
    const value = (layer.meta() as Record<string, unknown> | undefined)?.[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * The personal fields of an event schema: its top-level fields marked
 * `.meta({ personal: true })` (subject: the object's `.meta({ dataSubject: 'field' })`) or
 * `.meta({ personal: { subject: 'field', redacted: value } })`. Pushes an issue, named from
 * `at`, for a mark Annals cannot honour: no subject, a subject field the schema lacks, a
 * personal subject field, or a redacted value the field's schema refuses.
 */
export function personalFieldsOf(schema: z.ZodType, at: string, issues: ValidationIssue[]): PersonalField[] {
  const object = layers(schema).find((layer) => layer._zod.def.type === 'object');
  const shape = object?._zod.def.shape;
  const honoured = new Set<unknown>(Object.values(shape ?? {}).flatMap((field) => layers(field)));
  for (const path of personalMarksIn(schema, honoured)) {
    issues.push({
      field: `${at}${path}`,
      reason:
        'is marked personal where Annals cannot seal it: only top-level fields of the event\'s object schema are (not inside a nested object, an array, a union or a preprocess); ' +
        'mark the top-level field that holds it, or move the value up',
    });
  }
  if (!shape) return [];
  const dataSubject = metaOf(schema, 'dataSubject');
  const fields: PersonalField[] = [];
  for (const [field, fieldSchema] of Object.entries(shape)) {
    const meta = metaOf(fieldSchema, 'personal') as PersonalMeta | undefined | false;
    if (meta === undefined || meta === false) continue;
    const where = `${at}.${field}`;
    const options = meta === true ? {} : meta;
    const subjectField = options.subject ?? (typeof dataSubject === 'string' ? dataSubject : undefined);
    if (subjectField === undefined) {
      issues.push({ field: where, reason: "is personal but names no data subject: add .meta({ dataSubject: 'idField' }) to the event schema, or .meta({ personal: { subject: 'idField' } }) to the field" });
      continue;
    }
    if (!(subjectField in shape)) {
      issues.push({ field: where, reason: `names '${subjectField}' as its data subject, which is not a field of the event` });
      continue;
    }
    if (metaOf(shape[subjectField]!, 'personal')) {
      issues.push({ field: where, reason: `names '${subjectField}' as its data subject, which is itself personal: the subject's id must stay readable to find its key` });
      continue;
    }
    const redacted = 'redacted' in options ? options.redacted : isText(fieldSchema) ? erasedText : null;
    if (!fieldSchema.safeParse(redacted).success) {
      issues.push({
        field: where,
        reason: `its schema refuses the redacted value ${JSON.stringify(redacted)}: name one it accepts, .meta({ personal: { subject: '${subjectField}', redacted: ... } })`,
      });
      continue;
    }
    fields.push({ field, subjectField, redacted });
  }
  return fields;
}

/**
 * Where `schema` holds a personal mark outside `honoured` (the top-level fields and their
 * wrappers): such a mark would be silently ignored and its value stored in plaintext.
 * Walks every schema the definition refers to (object shapes, array elements, union
 * options, pipes, records, tuples…); lazy schemas are not followed.
 */
function personalMarksIn(schema: z.ZodType, honoured: Set<unknown>): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  const visit = (node: Internal, path: string) => {
    if (seen.has(node)) return;
    seen.add(node);
    if (!honoured.has(node) && (node.meta() as Record<string, unknown> | undefined)?.personal) found.push(path || '');
    const def = node._zod.def as unknown as Record<string, unknown>;
    if (def.type === 'lazy') return;
    for (const [key, value] of Object.entries(def)) {
      if (key === 'shape' && value && typeof value === 'object') {
        for (const [field, child] of Object.entries(value as Record<string, unknown>)) if (isSchema(child)) visit(child, `${path}.${field}`);
      } else if (isSchema(value)) {
        visit(value, key === 'element' ? `${path}[]` : path);
      } else if (Array.isArray(value)) {
        for (const [index, child] of value.entries()) if (isSchema(child)) visit(child, `${path}(${key} ${index})`);
      }
    }
  };
  visit(schema as Internal, '');
  return found;
}

/** A zod schema (not a check, which also carries `_zod`). */
function isSchema(value: unknown): value is Internal {
  return typeof value === 'object' && value !== null && '_zod' in value && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}

function isText(schema: z.ZodType): boolean {
  return layers(schema).some((layer) => layer._zod.def.type === 'string');
}

/**
 * Which fields of `data` (decided, validated) go to which subject.
 * @returns the entries, or an issue when a subject field is not a non-empty string.
 */
export function personalDataOf(fields: readonly PersonalField[], data: Record<string, unknown>, at: string): PersonalData[] | ValidationIssue {
  const bySubject = new Map<string, string[]>();
  for (const { field, subjectField } of fields) {
    if (data[field] === undefined) continue;
    const subject = data[subjectField];
    if (typeof subject !== 'string' || subject.length === 0) {
      return { field: `${at}.${subjectField}`, reason: `must be a non-empty string: it names the data subject of the personal field '${field}'` };
    }
    bySubject.set(subject, [...(bySubject.get(subject) ?? []), field]);
  }
  return [...bySubject].map(([subject, names]) => ({ subject, fields: names }));
}
