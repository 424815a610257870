/**
 * Where comparisons live in docs/benchmarks.md: after the page `npm run bench` writes,
 * below a marker line, so that a full run rewrites its own part and keeps them.
 *
 * Each comparison is a section with a title; only the part between its two comment
 * markers is generated. Text added by hand after the end marker (an explanation of the
 * figures) stays when the comparison is run again.
 */

const keptMarker = '<!-- bench:compare: sections below come from `npm run bench:compare`; `npm run bench` keeps them -->';

const startMarker = (title: string) => `<!-- bench:compare start: ${title} -->`;
const endMarker = (title: string) => `<!-- bench:compare end: ${title} -->`;

/** The comparison sections of `page` (from the marker on), to append to a rewritten page. */
export function keptSections(page: string): string {
  const at = page.indexOf(keptMarker);
  return at === -1 ? '' : page.slice(at);
}

/**
 * `page` with the generated part of section `title` replaced by `generated`; a section
 * not there yet is added at the end of the page, below the marker.
 */
export function withSection(page: string, title: string, generated: string): string {
  const start = page.indexOf(startMarker(title));
  const end = page.indexOf(endMarker(title));
  const block = `${startMarker(title)}\n\n${generated.trim()}\n\n${endMarker(title)}`;
  if (start !== -1 && end > start) return page.slice(0, start) + block + page.slice(end + endMarker(title).length);
  const head = page.includes(keptMarker) ? page.trimEnd() : `${page.trimEnd()}\n\n${keptMarker}`;
  return `${head}\n\n## ${title}\n\n${block}\n`;
}
