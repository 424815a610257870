/**
 * Reading a `/metrics` answer the way Prometheus does: each sample line is a name, its
 * labels and a value; `# HELP` and `# TYPE` lines describe the metric.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  samples: Sample[];
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(labelPair)) labels[key!] = value!.replace(/\\(.)/g, '$1');
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** GETs the metrics (with these request headers). */
export async function scrape(url: string, headers: Record<string, string> = {}, path = '/metrics'): Promise<Scrape> {
  const response = await fetch(`${url}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), text, samples: response.ok ? parseSamples(text) : [] };
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(scraped: Scrape | Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const samples = Array.isArray(scraped) ? scraped : scraped.samples;
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}: give more labels`);
  return found[0]?.value;
}

/** Every sample of `name`. */
export function samplesOf(scraped: Scrape, name: string): Sample[] {
  return scraped.samples.filter((s) => s.name === name);
}
