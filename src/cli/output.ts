/**
 * Text output of the `annals` command: aligned tables, short durations, and JSON with
 * bigints as strings (global positions go past 2^53, so a JSON number would round them).
 */

/**
 * JSON text of `value`, bigints as decimal strings and dates as ISO strings.
 *
 * @example
 * ```ts
 * toJson({ head: 4294967296n }); // '{\n  "head": "4294967296"\n}'
 * ```
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, bigintsAsStrings, 2);
}

/**
 * toJson on one line: one object per line (JSON lines), for output a program reads as it
 * comes (`annals projections rebuild --json`).
 *
 * @example
 * ```ts
 * toJsonLine({ event: 'progress', position: 4294967296n }); // '{"event":"progress","position":"4294967296"}'
 * ```
 */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, bigintsAsStrings);
}

const bigintsAsStrings = (_key: string, item: unknown): unknown => (typeof item === 'bigint' ? item.toString() : item);

/** How a column is aligned: numbers to the right, text to the left. */
export type Align = 'left' | 'right';

/**
 * A plain-text table: a header row, then one line per row, columns padded to their
 * widest cell and separated by two spaces.
 *
 * @example
 * ```ts
 * formatTable([{ title: 'projection' }, { title: 'lag', align: 'right' }], [['like-counts', '0']]);
 * ```
 */
export function formatTable(columns: readonly { title: string; align?: Align }[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, index) => Math.max(column.title.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((column, index) => {
        const cell = cells[index] ?? '';
        const width = widths[index] ?? 0;
        return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)].join('\n');
}

/**
 * A duration for people: `850ms`, `12.3s`, `4m05s`, `2h10m`, `3d04h`.
 *
 * @example
 * ```ts
 * formatDuration(245_000); // '4m05s'
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)}h${two(minutes % 60)}m`;
  const hours = Math.round(minutes / 60);
  return `${Math.floor(hours / 24)}d${two(hours % 24)}h`;
}

/** A count with thousands separators: `12,345`. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A share from 0 to 1 as a percentage with one decimal: `42.5%`. */
export function formatPercent(share: number): string {
  return `${(Math.min(1, Math.max(0, share)) * 100).toFixed(1)}%`;
}

/** `text` cut to `max` characters, with `…` when it was longer. */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
