/** Errors of the GraphQL layer: a schema Annals cannot derive from a domain's zod schemas. */
import { AnnalsError, ErrorCodes } from './annals-error.js';

/** Where a GraphQL schema could not be derived: which mutation, from which command, which field. */
export interface GraphQLSchemaTarget {
  /** The mutation being derived (`placeOrder`). */
  mutation: string;
  /** The command whose data schema it comes from (`PlaceOrder`); the mutation's name when none was given. */
  command: string;
  /** Path of the field in the command's data, dotted (`lines.sku`; a list's items add no segment); `''` for the whole data. */
  field: string;
}

/**
 * A command's zod data schema has a part GraphQL cannot take as input faithfully (a union
 * of objects, a record, a tuple, a bigint, a `z.date()`, an integer bounded beyond 32 bits,
 * an enum value that is not a GraphQL name...), or the options given for the derivation
 * are wrong (an unknown field path, a type name used twice). Raised when the schema is
 * built, at startup, never per request. `reason` says what and how to fix it: most often
 * a scalar of your own for the field (`scalars: { field: 'JSON' }`).
 *
 * @example
 * ```ts
 * // GraphQLSchemaError: mutation 'placeOrder' (command 'PlaceOrder'), field 'lines.at': z.date() has no GraphQL input ...
 * if (error instanceof GraphQLSchemaError) console.error(error.mutation, error.field, error.reason);
 * ```
 */
export class GraphQLSchemaError extends AnnalsError {
  readonly mutation: string;
  readonly command: string;
  readonly field: string;
  readonly reason: string;

  constructor(target: GraphQLSchemaTarget, reason: string) {
    const where = target.field === '' ? '' : `, field '${target.field}'`;
    super(ErrorCodes.graphqlSchema, `mutation '${target.mutation}' (command '${target.command}')${where}: ${reason}`);
    this.mutation = target.mutation;
    this.command = target.command;
    this.field = target.field;
    this.reason = reason;
  }
}
