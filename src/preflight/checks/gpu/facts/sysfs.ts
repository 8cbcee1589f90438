// Attribute files under a sysfs directory, named by patterns such as `*/vendor` or
// `*/ports/*/state`. Over SSH one grep reads them all (a server has 100+ PCI functions
// and every file read would be a round trip); on this machine they are listed and read.
import type { Host } from '../../../types.ts';
import { shQuote } from '../../../hosts/quote.ts';

/** Relative path (wildcards filled in) -> the attribute's value, trimmed. */
export type SysfsAttrs = Map<string, string>;

/** The command the SSH path runs (also declared in a check's gather, so the batch answers it). */
export function sysfsGrep(base: string, patterns: string[]): string[] {
  // exit 3: no such directory; otherwise 0 even when some attribute cannot be read (EINVAL, EIO).
  return ['sh', '-c', `cd ${shQuote(base)} 2>/dev/null || exit 3; grep -sH . ${patterns.join(' ')}; exit 0`];
}

function patternRe(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
  // Names may hold ':' (PCI addresses), values may hold '/' ("400 Gb/sec"): the pattern decides where the name ends.
  return new RegExp(`^(${body}):(.*)$`);
}

/** `grep -H` lines (`path:value`) of the patterns' files. */
export function parseSysfsGrep(stdout: string, patterns: string[]): SysfsAttrs {
  const res = patterns.map(patternRe);
  const out: SysfsAttrs = new Map();
  for (const line of stdout.split('\n')) {
    for (const re of res) {
      const m = re.exec(line);
      if (m) {
        out.set(m[1]!, m[2]!.trim());
        break;
      }
    }
  }
  return out;
}

async function expandLocal(host: Host, base: string, pattern: string, signal: AbortSignal, dirs: Map<string, Promise<string[] | null>>): Promise<string[]> {
  const list = (rel: string) => {
    let p = dirs.get(rel);
    if (!p) dirs.set(rel, (p = host.readDir(rel ? `${base}/${rel}` : base, { signal })));
    return p;
  };
  let rels = [''];
  const segs = pattern.split('/');
  for (const seg of segs.slice(0, -1)) {
    const next: string[] = [];
    for (const rel of rels) {
      const names = seg === '*' ? ((await list(rel)) ?? []) : [seg];
      for (const n of names) next.push(rel ? `${rel}/${n}` : n);
    }
    rels = next;
  }
  return rels.map((rel) => (rel ? `${rel}/${segs.at(-1)}` : segs.at(-1)!));
}

/** The attributes, or null when `base` does not exist or cannot be listed. */
export async function readSysfsAttrs(host: Host, base: string, patterns: string[], signal: AbortSignal): Promise<SysfsAttrs | null> {
  if (host.kind !== 'local') {
    const r = await host.exec(sysfsGrep(base, patterns), { signal, sudo: false });
    if (r.code === 3) return null;
    if (r.code === 0) return parseSysfsGrep(r.stdout, patterns);
    // no sh on the node: read file by file below
  }
  if ((await host.readDir(base, { signal })) === null) return null;
  const dirs = new Map<string, Promise<string[] | null>>();
  const paths = (await Promise.all(patterns.map((p) => expandLocal(host, base, p, signal, dirs)))).flat();
  const values = await Promise.all(paths.map((rel) => host.readFile(`${base}/${rel}`, { signal, maxBytes: 4096 })));
  const out: SysfsAttrs = new Map();
  paths.forEach((rel, i) => {
    const v = values[i]?.trim();
    if (v) out.set(rel, v);
  });
  return out;
}
