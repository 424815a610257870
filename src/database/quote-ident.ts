/**
 * A Postgres identifier, quoted: schema names are configurable, so they are always
 * quoted (and their quotes doubled) wherever SQL text is built by hand.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A string literal for the statements that take no parameters (`COMMENT ON`): quotes
 * doubled, as `standard_conforming_strings` (on since Postgres 9.1) reads them.
 */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
