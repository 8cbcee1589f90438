// WWW-Authenticate challenges of a registry (RFC 7235 / Docker token auth):
// `Basic realm="x"` or `Bearer realm="https://auth/token",service="reg",scope="..."`.
// Parsed by the registry client's parser; here only: is the challenge usable?
import { parseChallenge, type Challenge } from '../../oci/registry/auth.ts';

export { parseChallenge, type Challenge };

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
