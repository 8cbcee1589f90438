// Name resolution as the node sees it: `getent ahosts` on the node (nsswitch:
// /etc/hosts, DNS...), or Node's resolver when the local host has no getent.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Host } from '../types.ts';

export interface Resolution {
  name: string;
  addresses: string[];
  error?: string;
  method: 'ip-literal' | 'getent' | 'node:dns';
}

export function parseGetentAhosts(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const a = line.trim().split(/\s+/)[0];
    if (a && isIP(a)) out.add(a);
  }
  return [...out];
}

export async function resolveOnHost(h: Host, name: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Resolution> {
  const bare = name.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return { name, addresses: [bare], method: 'ip-literal' };
  const r = await h.exec(['getent', 'ahosts', bare], { timeoutMs: opts.timeoutMs, signal: opts.signal }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
  if (r.code === 0) return { name, addresses: parseGetentAhosts(r.stdout), method: 'getent' };
  if (r.code === 2) return { name, addresses: [], error: 'not found (getent ahosts: no such name)', method: 'getent' };
  if (r.code === 127 && h.kind === 'local') {
    try {
      const all = await lookup(bare, { all: true });
      return { name, addresses: all.map((a) => a.address), method: 'node:dns' };
    } catch (err) {
      return { name, addresses: [], error: `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim(), method: 'node:dns' };
    }
  }
  return { name, addresses: [], error: r.code === null ? `getent timed out after ${opts.timeoutMs} ms` : (r.stderr.trim() || `getent exited ${r.code}`), method: 'getent' };
}
