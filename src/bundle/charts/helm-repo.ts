// Helm HTTP repositories: index.yaml -> the entry for NAME VERSION -> its URL
// (relative URLs resolve against the repository) and its `digest` (sha256 of
// the .tgz), which, when present, the download must match.
import { parse as parseYamlText } from 'yaml';
import { OperationError } from '../../errors.ts';
import type { HttpSource } from '../http-source.ts';

export interface RepoChartEntry {
  name: string;
  version: string;
  url: string;
  /** sha256:<hex> from the index, when the index has one */
  digest?: string;
}

interface IndexFile {
  entries?: Record<string, Array<{ version?: unknown; urls?: unknown; digest?: unknown }>>;
}

/** Picks NAME VERSION out of an index.yaml text. Pure, for tests. */
export function pickFromIndex(indexText: string, repoUrl: string, name: string, version: string): RepoChartEntry {
  let index: IndexFile;
  try {
    index = parseYamlText(indexText, { maxAliasCount: -1 }) as IndexFile;
  } catch (err) {
    throw new OperationError(`chart ${name} ${version}: ${repoUrl}/index.yaml is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const versions = index?.entries?.[name];
  if (!Array.isArray(versions) || versions.length === 0) throw new OperationError(`chart ${name} ${version}: no chart named '${name}' in ${repoUrl}/index.yaml`);
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
  if (!/^[a-f0-9]{64}$/.test(hex)) throw new OperationError(`${what} '${value.slice(0, 80)}' is not a sha256 (expected 64 lowercase hex)`);
  return `sha256:${hex}`;
}

export async function resolveRepoChart(http: HttpSource, repoUrl: string, name: string, version: string): Promise<RepoChartEntry> {
  const indexUrl = `${repoUrl.replace(/\/+$/, '')}/index.yaml`;
  const text = await http.text(indexUrl, `chart ${name} ${version}: index ${indexUrl}`);
  return pickFromIndex(text, repoUrl.replace(/\/+$/, ''), name, version);
}
