// containerd's registry host configuration as a node holds it (pure parsers):
// the CRI plugin's `config_path` in config.toml, and a certs.d/<host>/hosts.toml.
// Only the TOML these files use: [table] headers with quoted keys, and
// `key = value` lines whose values are strings, booleans or arrays of strings.

export interface ConfigPathFact {
  /** directories containerd searches, in order (config_path may list several, ':'-separated) */
  dirs: string[];
  /** the table it was set in */
  table: string;
  line: number;
}

export interface HostEntry {
  url: string;
  capabilities?: string[];
  overridePath?: boolean;
  /** as written: absolute, or relative to the hosts.toml's directory */
  ca?: string[];
  skipVerify?: boolean;
}

export interface HostsFile {
  server?: string;
  /** what the top-level (server) table says, when it carries host settings itself */
  serverEntry?: HostEntry;
  hosts: HostEntry[];
}

type Value = string | boolean | string[] | undefined;

/** Splits a header like plugins."io.containerd.grpc.v1.cri".registry into its keys. */
function headerKeys(header: string): string[] {
  const keys: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < header.length && (m = re.exec(header))) keys.push(m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : (m[2] ?? m[3]!));
  return keys;
}

function parseValue(text: string): Value {
  const t = text.trim();
  if (t === 'true' || t === 'false') return t === 'true';
  if (/^"(?:[^"\\]|\\.)*"$/.test(t)) return JSON.parse(t) as string;
  if (/^'[^']*'$/.test(t)) return t.slice(1, -1);
  if (t.startsWith('[') && t.endsWith(']')) {
    return [...t.slice(1, -1).matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((m) => (m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : m[2]!));
  }
  return undefined;
}

/** Lines as (table keys, key, value, line number); comments and multi-line values are skipped. */
function* entries(text: string): Generator<{ table: string[]; key: string; value: Value; line: number }> {
  let table: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\s+#[^"']*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[\[?(.+?)\]\]?$/.exec(line);
    if (header) {
      table = headerKeys(header[1]!);
      continue;
    }
    const kv = /^("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const dotted = headerKeys(kv[1]!);
    yield { table: [...table, ...dotted.slice(0, -1)], key: dotted[dotted.length - 1]!, value: parseValue(kv[2]!), line: i + 1 };
  }
}

/**
 * The CRI registry config_path from a containerd config.toml: containerd 1.x
 * plugins."io.containerd.grpc.v1.cri".registry, 2.x plugins."io.containerd.cri.v1.images".registry.
 * undefined when not set (or set to "").
 */
export function parseConfigPath(text: string): ConfigPathFact | undefined {
  for (const e of entries(text)) {
    const t = e.table;
    const cri = t[0] === 'plugins' && (t[1] === 'io.containerd.grpc.v1.cri' || t[1] === 'io.containerd.cri.v1.images' || t[1] === 'cri');
    if (!cri || t[t.length - 1] !== 'registry' || e.key !== 'config_path' || typeof e.value !== 'string') continue;
    const dirs = e.value.split(':').filter(Boolean);
    if (dirs.length) return { dirs, table: t.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k))).join('.'), line: e.line };
  }
  return undefined;
}

/** `imports` of a config.toml (other files merged into it), as written. */
export function parseImports(text: string): string[] {
  for (const e of entries(text)) if (e.table.length === 0 && e.key === 'imports' && Array.isArray(e.value)) return e.value;
  return [];
}

function applyEntry(h: HostEntry, key: string, value: Value): void {
  if (key === 'capabilities' && Array.isArray(value)) h.capabilities = value;
  else if (key === 'override_path' && typeof value === 'boolean') h.overridePath = value;
  else if (key === 'skip_verify' && typeof value === 'boolean') h.skipVerify = value;
  else if (key === 'ca' && (typeof value === 'string' || Array.isArray(value))) h.ca = typeof value === 'string' ? [value] : value;
}

export function parseHostsToml(text: string): HostsFile {
  const out: HostsFile = { hosts: [] };
  const byUrl = new Map<string, HostEntry>();
  const top: HostEntry = { url: '' };
  for (const e of entries(text)) {
    if (e.table.length === 0) {
      if (e.key === 'server' && typeof e.value === 'string') out.server = e.value;
      else applyEntry(top, e.key, e.value);
      continue;
    }
    if (e.table[0] !== 'host' || e.table.length !== 2) continue;
    const url = e.table[1]!;
    let h = byUrl.get(url);
    if (!h) {
      h = { url };
      byUrl.set(url, h);
      out.hosts.push(h);
    }
    applyEntry(h, e.key, e.value);
  }
  if (out.server) out.serverEntry = { ...top, url: out.server };
  return out;
}

/** Whether a host entry may serve pulls (containerd's default, when none are listed, is pull, resolve and push). */
export function canPull(h: HostEntry): boolean {
  return !h.capabilities || (h.capabilities.includes('pull') && h.capabilities.includes('resolve'));
}

/** host[:port] of a URL as hosts.toml or registries.yaml write it (the scheme may be left out). */
export function urlHost(url: string): string | undefined {
  try {
    return new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`).host;
  } catch {
    return undefined;
  }
}
