/**
 * Reading a zod 4 schema for the GraphQL derivation: what sits under its wrappers, which
 * values it accepts besides that (absence, null), and what kind of leaf it is. zod 4
 * documents `schema._zod.def` as the way for libraries to read a schema; this module is
 * the only one of Annals that does.
 */
import { z } from 'zod';

/** The parts of a zod 4 definition the derivation reads; each kind of schema has some of them. */
export interface ZodDef {
  type: z.core.$ZodTypeDef['type'];
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  getter?: () => z.ZodType;
  options?: readonly z.ZodType[];
  element?: z.ZodType;
  defaultValue?: unknown;
  values?: readonly unknown[];
  coerce?: boolean;
}

export function defOf(schema: z.ZodType): ZodDef {
  return schema._zod.def as unknown as ZodDef;
}

/** A schema with its wrappers peeled off. */
export interface Unwrapped {
  /** The schema under `.optional()`, `.nullable()`, `.default()`, pipes, `z.lazy`... */
  core: z.ZodType;
  /** zod accepts the value absent. */
  optional: boolean;
  /** zod accepts `null` (and so must receive it, not have it dropped). */
  nullable: boolean;
  /** A `.default()` or `.prefault()`: the value and the schema it wraps. */
  default?: { value: unknown; schema: z.ZodType };
}

// A z.lazy that returns another z.lazy forever would loop; real schemas peel in a few steps.
const maxWrappers = 64;

const isNullish = (schema: z.ZodType): boolean => {
  const def = defOf(schema);
  if (def.type === 'null' || def.type === 'undefined' || def.type === 'void') return true;
  return def.type === 'literal' && (def.values ?? []).every((value) => value === null || value === undefined);
};

/**
 * Peels the wrappers off a schema, outermost first. A pipe stands for its input side
 * (`.transform()` runs after parsing what the client sent), except `z.preprocess`, whose
 * input side accepts anything: there the target schema says what clients should send.
 * `null` and `undefined` members of a union make it nullable / optional, as `.nullable()`.
 */
export function unwrap(schema: z.ZodType): Unwrapped {
  let core = schema;
  let optional = false;
  let nullable = false;
  // `.nonoptional()` outside an `.optional()` makes absence an error again.
  let required = false;
  let defaulted: Unwrapped['default'];
  for (let step = 0; step < maxWrappers; step += 1) {
    const def = defOf(core);
    switch (def.type) {
      case 'optional':
        optional ||= !required;
        core = def.innerType!;
        continue;
      case 'nullable':
        nullable = true;
        core = def.innerType!;
        continue;
      case 'default':
      case 'prefault':
        optional ||= !required;
        defaulted ??= { value: def.defaultValue, schema: def.innerType! };
        core = def.innerType!;
        continue;
      case 'catch':
        // Any input, null and absence included, falls back to the catch value.
        optional ||= !required;
        nullable = true;
        core = def.innerType!;
        continue;
      case 'nonoptional':
        required = true;
        core = def.innerType!;
        continue;
      case 'readonly':
        core = def.innerType!;
        continue;
      case 'lazy':
        core = def.getter!();
        continue;
      case 'pipe':
        core = defOf(def.in!).type === 'transform' ? def.out! : def.in!;
        continue;
      case 'union': {
        const options = def.options ?? [];
        const rest = options.filter((option) => !isNullish(option));
        if (rest.length === options.length || rest.length === 0) break;
        for (const option of options.filter(isNullish)) {
          if (defOf(option).type === 'null' || (defOf(option).values ?? []).includes(null)) nullable = true;
          else optional ||= !required;
        }
        core = rest.length === 1 ? rest[0]! : z.union(rest as [z.ZodType, z.ZodType, ...z.ZodType[]]);
        continue;
      }
    }
    return defaulted === undefined ? { core, optional, nullable } : { core, optional, nullable, default: defaulted };
  }
  throw new Error(`zod schema nests more than ${maxWrappers} wrappers (a z.lazy returning itself?)`);
}

/** The GraphQL scalar family a leaf belongs to, which decides the built-in scalars it may be given. */
export type LeafKind = 'string' | 'number' | 'boolean' | 'other';

/**
 * The values of an enum, a literal, or a union of those; `undefined` for any other schema.
 * `z.enum` over a TypeScript numeric enum gives its numbers, not its reverse-mapped names.
 */
export function choiceValues(core: z.ZodType): unknown[] | undefined {
  const def = defOf(core);
  if (def.type === 'enum') return [...(core as z.ZodEnum).options];
  if (def.type === 'literal') return [...(def.values ?? [])];
  if (def.type !== 'union') return undefined;
  const values: unknown[] = [];
  for (const option of def.options ?? []) {
    const optionValues = choiceValues(unwrap(option).core);
    if (optionValues === undefined) return undefined;
    values.push(...optionValues);
  }
  return [...new Set(values)];
}

export function leafKind(core: z.ZodType): LeafKind {
  const def = defOf(core);
  switch (def.type) {
    case 'string':
    case 'template_literal':
      return 'string';
    case 'date':
      // z.coerce.date() parses the ISO string a client sends; a plain z.date() needs a Date.
      return def.coerce === true ? 'string' : 'other';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
  }
  const values = choiceValues(core);
  if (values === undefined || values.length === 0) return 'other';
  const kinds = new Set(values.map((value) => typeof value));
  if (kinds.size !== 1) return 'other';
  const [kind] = kinds;
  return kind === 'string' || kind === 'number' || kind === 'boolean' ? kind : 'other';
}
