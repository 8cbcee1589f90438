// Helm HTTP repositories: index.yaml -> the entry for NAME VERSION -> its URL
// (relative URLs resolve against the repository) and its `digest` (sha256 of
// the .tgz), which, when present, the download must match.
import { OperationError } from '../../errors.ts';
import { isSha256Hex } from '../../oci/digest.ts';
import type { HttpSource } from '../create/http-source.ts';
import { parseIndexEntries, readIndexEntries, type IndexEntries } from './index-stream.ts';

export interface RepoChartEntry {
  name: string;
  version: string;
  url: string;
  /** sha256:<hex> from the index, when the index has one */
  digest?: string;
}

/** Picks NAME VERSION out of an index.yaml text (a whole-document parse). Pure, for tests. */
export function pickFromIndex(indexText: string, repoUrl: string, name: string, version: string): RepoChartEntry {
  let entries: IndexEntries;
  try {
    entries = parseIndexEntries(indexText, new Set([name]));
  } catch (err) {
    throw invalidIndex(name, version, repoUrl, err);
  }
  return pickVersion(entries.get(name), repoUrl, name, version);
}

function invalidIndex(name: string, version: string, repoUrl: string, err: unknown): OperationError {
  return new OperationError(`chart ${name} ${version}: ${repoUrl}/index.yaml is not valid YAML (${(err as Error).message.split('\n')[0]})`);
}

/** NAME VERSION among a chart's index entries (a leading v is optional on either side). */
export function pickVersion(list: unknown[] | undefined, repoUrl: string, name: string, version: string): RepoChartEntry {
  const versions = (list ?? []).filter((e): e is { version?: unknown; urls?: unknown; digest?: unknown } => !!e && typeof e === 'object');
  if (versions.length === 0) throw new OperationError(`chart ${name} ${version}: no chart named '${name}' in ${repoUrl}/index.yaml`);
  const strip = (v: string) => v.replace(/^v/, '');
  const entry = versions.find((e) => String(e.version) === version) ?? versions.find((e) => strip(String(e.version)) === strip(version));
  if (!entry) {
    const some = versions.slice(0, 5).map((e) => String(e.version)).join(', ');
    throw new OperationError(`chart ${name} ${version}: version not found in ${repoUrl}/index.yaml (newest: ${some})`);
  }
  const urls = Array.isArray(entry.urls) ? entry.urls.map(String) : [];
  if (!urls[0]) throw new OperationError(`chart ${name} ${version}: index.yaml entry has no urls`);
  const base = repoUrl.endsWith('/') ? repoUrl : `${repoUrl}/`;
  const url = new URL(urls[0], base).toString();
  return { name, version: String(entry.version), url, digest: indexDigest(entry.digest, `chart ${name} ${version}: the digest in ${repoUrl}/index.yaml`) };
}

/**
 * An index entry's `digest`, which the download must then match: absent, or
 * a sha256 as a string. Anything else is an error rather than a skipped
 * check, a number above all: YAML reads an unquoted all-digit hex as one
 * (helm itself writes such a digest quoted).
 */
function indexDigest(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'bigint') throw new OperationError(`${what} is a number, not a string (YAML reads an unquoted all-digit value as a number); expected a sha256 (64 lowercase hex), quoted`);
  if (typeof value !== 'string') throw new OperationError(`${what} is ${value === null ? 'empty' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `a ${typeof value}`}; expected a sha256 (64 lowercase hex)`);
  const hex = value.replace(/^sha256:/, '');
  if (!isSha256Hex(hex)) throw new OperationError(`${what} '${value.slice(0, 80)}' is not a sha256 (expected 64 lowercase hex)`);
  return `sha256:${hex}`;
}

/**
 * The indexes of a run: each repository's index.yaml is fetched and read once, for all
 * the charts the run takes from it, keeping only their entries (index-stream.ts).
 */
export class RepoIndexes {
  readonly #http: HttpSource;
  readonly #wanted = new Map<string, Set<string>>();
  readonly #reads = new Map<string, { names: ReadonlySet<string>; entries: Promise<IndexEntries> }>();

  constructor(http: HttpSource, charts: ReadonlyArray<{ repo?: string; name: string }>) {
    this.#http = http;
    for (const c of charts) if (c.repo) this.#names(c.repo).add(c.name);
  }

  #names(repo: string): Set<string> {
    const key = trimRepo(repo);
    let set = this.#wanted.get(key);
    if (!set) this.#wanted.set(key, (set = new Set()));
    return set;
  }

  async resolve(repoUrl: string, name: string, version: string): Promise<RepoChartEntry> {
    const repo = trimRepo(repoUrl);
    this.#names(repo).add(name);
    let read = this.#reads.get(repo);
    // (a chart not named up front reads the index again, for all names known by then)
    if (!read?.names.has(name)) {
      const names = new Set(this.#wanted.get(repo));
      read = { names, entries: readRepoIndex(this.#http, repo, names, `chart ${name} ${version}`) };
      this.#reads.set(repo, read);
    }
    let entries: IndexEntries;
    try {
      entries = await read.entries;
    } catch (err) {
      if (err instanceof OperationError) throw new OperationError(err.message.replace(/^chart \S+ \S+:/, `chart ${name} ${version}:`), { cause: err });
      throw invalidIndex(name, version, repo, err);
    }
    return pickVersion(entries.get(name), repo, name, version);
  }
}

const trimRepo = (u: string) => u.replace(/\/+$/, '');

async function readRepoIndex(http: HttpSource, repo: string, names: ReadonlySet<string>, what: string): Promise<IndexEntries> {
  const indexUrl = `${repo}/index.yaml`;
  const { body } = await http.open(indexUrl, 0, `${what}: index ${indexUrl}`);
  const found = await readIndexEntries(body as AsyncIterable<Buffer>, new Set(names));
  if (found) return found;
  // not block style (a JSON index, flow style): read again, parse whole
  return parseIndexEntries(await http.text(indexUrl, `${what}: index ${indexUrl}`), names);
}

export async function resolveRepoChart(http: HttpSource, repoUrl: string, name: string, version: string, indexes?: RepoIndexes): Promise<RepoChartEntry> {
  return (indexes ?? new RepoIndexes(http, [])).resolve(repoUrl, name, version);
}
