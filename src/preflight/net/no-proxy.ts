// NO_PROXY matching with Go's net/http semantics (what containerd, kubelet and
// helm use): "*" matches everything; "name" matches it and its subdomains;
// ".name" matches subdomains only; IPs and CIDRs match addresses; an entry with
// ":port" matches that port only; loopback is never proxied.
import { isLoopbackName } from '../../loopback.ts';
import { BlockList, isIP } from 'node:net';

export function splitNoProxy(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const parts = Array.isArray(value) ? value.flatMap((v) => v.split(',')) : value.split(',');
  return parts.map((p) => p.trim()).filter(Boolean);
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function ipFamily(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

/** True when CIDR `outer` contains the address or CIDR `inner`. */
export function cidrContains(outer: string, inner: string): boolean {
  const [net, bitsText] = outer.split('/');
  const bits = Number(bitsText);
  if (!net || !isIP(net) || !Number.isInteger(bits)) return false;
  const [innerNet, innerBitsText] = inner.split('/');
  if (!innerNet || !isIP(innerNet) || isIP(innerNet) !== isIP(net)) return false;
  const innerBits = innerBitsText === undefined ? (isIP(innerNet) === 6 ? 128 : 32) : Number(innerBitsText);
  if (innerBits < bits) return false;
  const bl = new BlockList();
  bl.addSubnet(net, bits, ipFamily(net));
  return bl.check(innerNet, ipFamily(innerNet));
}

/** The one loopback rule (../../loopback.ts). */
export function isLoopback(host: string): boolean {
  return isLoopbackName(stripBrackets(host));
}

/** The NO_PROXY entry that sends `host[:port]` direct, or undefined (use the proxy). */
export function noProxyMatch(entries: string[], host: string, port?: number): string | undefined {
  const h = stripBrackets(host).toLowerCase().replace(/\.$/, '');
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return raw;
    let name = entry;
    let entryPort: number | undefined;
    const pm = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (pm && !entry.includes('/')) {
      name = pm[1]!;
      entryPort = Number(pm[2]);
    }
    if (entryPort !== undefined && port !== undefined && entryPort !== port) continue;
    name = stripBrackets(name).replace(/\.$/, '');
    if (name.includes('/')) {
      if (isIP(h) && cidrContains(name, h)) return raw;
      continue;
    }
    if (isIP(name)) {
      if (isIP(h) && name === h) return raw;
      continue;
    }
    if (name.startsWith('*.')) name = name.slice(1);
    if (name.startsWith('.')) {
      if (h.endsWith(name)) return raw;
      continue;
    }
    if (h === name || h.endsWith('.' + name)) return raw;
  }
  return undefined;
}

/**
 * Does the NO_PROXY list cover a requirement (an address, a CIDR, a domain
 * suffix like ".svc", or a host name)? Returns the covering entry.
 */
export function noProxyCovers(entries: string[], required: string): string | undefined {
  const req = required.trim().toLowerCase();
  if (req.includes('/')) {
    for (const raw of entries) {
      const e = raw.trim().toLowerCase();
      if (e === '*' || e === req) return raw;
      if (e.includes('/') && cidrContains(e, req)) return raw;
    }
    return undefined;
  }
  if (req.startsWith('.')) {
    // A suffix requirement: covered by the same suffix, by the bare domain
    // (which matches subdomains too), or by a wider suffix.
    for (const raw of entries) {
      const e = raw.trim().toLowerCase().replace(/^\*\./, '.');
      if (e === '*') return raw;
      const bare = e.startsWith('.') ? e.slice(1) : e;
      if (req === `.${bare}` || req.endsWith(`.${bare}`)) return raw;
    }
    return undefined;
  }
  return noProxyMatch(entries, req);
}
