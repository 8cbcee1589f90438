// WWW-Authenticate challenges of a registry (RFC 7235 / Docker token auth):
// `Basic realm="x"` or `Bearer realm="https://auth/token",service="reg",scope="..."`.

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

/** Usable: Basic, or Bearer with an http(s) realm to fetch tokens from. */
export function challengeProblem(c: Challenge | undefined): string | undefined {
  if (!c) return 'no WWW-Authenticate header';
  if (c.scheme === 'basic') return undefined;
  if (c.scheme !== 'bearer') return `unsupported auth scheme '${c.scheme}'`;
  const realm = c.params.realm;
  if (!realm) return 'Bearer challenge without a realm';
  try {
    const u = new URL(realm);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return `Bearer realm '${realm}' is not an http(s) URL`;
  } catch {
    return `Bearer realm '${realm}' is not a URL`;
  }
  return undefined;
}
