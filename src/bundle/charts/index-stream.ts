// A targeted read of a Helm repository's index.yaml: public indexes are tens of
// MB (tens of thousands of entries), and a full YAML parse of one costs
// seconds and hundreds of MB. The index is one mapping whose `entries:` maps
// each chart name to its list of versions; this reads the stream line by
// line, keeps only the blocks of the charts asked for, and parses those.
//
// It relies on block style, which `helm repo index` and every repository
// server write (keys of `entries` at one indentation, their lists below or
// beside them). Anything else (a JSON index, flow style) the caller parses whole.
import { parse as parseYamlText } from 'yaml';

export type IndexEntries = Map<string, unknown[]>;

/**
 * The version lists of `names` in an index read from `body` (chunks of UTF-8); names the
 * index lacks are absent from the map. Undefined when the index is not in block style:
 * the caller parses it whole.
 */
export async function readIndexEntries(body: AsyncIterable<Buffer | string>, names: ReadonlySet<string>): Promise<IndexEntries | undefined> {
  const scan = new IndexScanner(names);
  let rest = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const first = text.indexOf('\n');
    if (first < 0) {
      rest += text;
      continue;
    }
    // the line that began in the last chunk, then this chunk's whole lines in place (no copies)
    scan.lines(rest + text.slice(0, first + 1), 0);
    const last = text.lastIndexOf('\n');
    scan.lines(text, first + 1, last + 1);
    rest = text.slice(last + 1);
    if (scan.unsure) return undefined;
  }
  scan.lines(rest + decoder.decode() + '\n', 0);
  return scan.finish();
}

/** The whole-document parse, for indexes the scanner declines. */
export function parseIndexEntries(text: string, names: ReadonlySet<string>): IndexEntries {
  const doc = parseYamlText(text, { maxAliasCount: -1 }) as { entries?: Record<string, unknown> } | null;
  const out: IndexEntries = new Map();
  for (const n of names) {
    const v = doc?.entries?.[n];
    if (Array.isArray(v)) out.set(n, v);
  }
  return out;
}

const KEY = /^( *)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\-{[][^:#]*?|-[^\s:][^:#]*?)\s*:(?:\s|$)/;

class IndexScanner {
  readonly #names: ReadonlySet<string>;
  #state: 'before' | 'entries' | 'after' = 'before';
  #indent = -1;
  #capturing: { name: string; lines: string[] } | undefined;
  readonly #found = new Map<string, string[]>();
  unsure = false;

  constructor(names: ReadonlySet<string>) {
    this.#names = names;
  }

  /** The lines of text[from, end) (end: just past a newline). */
  lines(text: string, from: number, end = text.length): void {
    while (from < end && !this.unsure) {
      let to = text.indexOf('\n', from);
      if (to < 0 || to >= end) to = end;
      // Hot path: inside entries, not capturing, a line indented past the chart keys is skipped unread.
      if (this.#state === 'entries' && !this.#capturing && this.#indent > 0 && to - from > this.#indent && indentAtLeast(text, from, this.#indent + 1)) {
        from = to + 1;
        continue;
      }
      this.#line(text.slice(from, to));
      from = to + 1;
    }
  }

  #line(line: string): void {
    if (this.#state === 'after') return;
    const first = line.search(/\S/);
    if (first < 0 || line[first] === '#') {
      this.#capturing?.lines.push(line);
      return;
    }
    if (this.#state === 'before') {
      if (first !== 0) return;
      if (/^(entries|"entries"|'entries')\s*:\s*(#.*)?$/.test(line)) {
        this.#state = 'entries';
      } else if (/^entries\s*:\s*\{\s*\}\s*(#.*)?$/.test(line)) this.#state = 'after';
      else if (/^(\{|entries\s*:\s*\S)/.test(line)) this.unsure = true; // flow style
      return;
    }
    // inside entries
    if (this.#indent < 0) {
      if (first === 0) return this.#end();
      this.#indent = first;
    }
    if (first < this.#indent || (first === 0 && this.#indent > 0)) return this.#end();
    if (first === this.#indent && line[first] !== '-') {
      const m = KEY.exec(line);
      if (!m) {
        this.unsure = true;
        return;
      }
      this.#close();
      const name = unquote(m[2]!.trim());
      if (this.#names.has(name)) this.#capturing = { name, lines: [`${JSON.stringify(name)}:${line.slice(m[0].length - (/\s$/.test(m[0]) ? 1 : 0))}`] };
      return;
    }
    this.#capturing?.lines.push(line.slice(this.#indent));
  }

  #close(): void {
    if (this.#capturing) this.#found.set(this.#capturing.name, this.#capturing.lines);
    this.#capturing = undefined;
  }

  #end(): void {
    this.#close();
    this.#state = 'after';
  }

  /** The entries asked for, or undefined when the document was not what this reader expects. */
  finish(): IndexEntries | undefined {
    if (this.unsure || this.#state === 'before') return undefined;
    this.#close();
    const out: IndexEntries = new Map();
    for (const [name, lines] of this.#found) {
      const doc = parseYamlText(lines.join('\n'), { maxAliasCount: -1 }) as Record<string, unknown> | null;
      const v = doc?.[name];
      if (Array.isArray(v)) out.set(name, v);
    }
    return out;
  }
}

/** Whether text[from..] starts with at least n spaces. */
function indentAtLeast(text: string, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (text.charCodeAt(i) !== 32) return false;
  return true;
}

function unquote(k: string): string {
  if (k.startsWith('"')) return JSON.parse(k) as string;
  if (k.startsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}
