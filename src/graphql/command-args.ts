/**
 * GraphQL arguments to command data. The arguments already have the data's shape (the
 * input types were derived from it); what differs is absence and null. GraphQL lets a
 * client send `null` for any nullable argument and treats a missing one the same way,
 * while zod tells them apart: `.optional()` refuses null, `.nullable()` refuses absence.
 * So null becomes absence where zod only accepts absence, and absence becomes null where
 * zod only accepts null; zod then parses the data as it would any command.
 */

/** How to read one argument, input field or list item. */
export interface InputSlot {
  shape: InputShape;
  /** zod accepts the value absent. */
  optional: boolean;
  /** zod accepts null. */
  nullable: boolean;
}

/** The data's shape as far as the conversion needs it: objects and lists to walk into. */
export type InputShape =
  | { kind: 'value' }
  | { kind: 'list'; item: InputSlot }
  | { kind: 'object'; fields: ReadonlyMap<string, InputSlot> };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function convertValue(shape: InputShape, value: unknown): unknown {
  if (shape.kind === 'list' && Array.isArray(value)) {
    return value.map((item: unknown) => (item === null && !shape.item.nullable ? undefined : convertValue(shape.item.shape, item)));
  }
  if (shape.kind === 'object' && isRecord(value)) return convertObject(shape.fields, value);
  return value;
}

/** Only the fields of the shape are kept: an argument that is not data (the aggregate id) is left out. */
export function convertObject(fields: ReadonlyMap<string, InputSlot>, value: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [name, slot] of fields) {
    const present = Object.hasOwn(value, name) && value[name] !== undefined;
    const field = present ? value[name] : undefined;
    if (field === null || !present) {
      if (slot.nullable && (field === null || !slot.optional)) data[name] = null;
      continue;
    }
    data[name] = convertValue(slot.shape, field);
  }
  return data;
}
