/**
 * A Postgres identifier, quoted: schema names are configurable, so they are always
 * quoted (and their quotes doubled) wherever SQL text is built by hand.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
