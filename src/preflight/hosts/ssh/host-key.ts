// The host key check inside the SSH handshake, as OpenSSH does it against known_hosts:
// a known key passes, a changed or @revoked one is refused, a new one only with
// --accept-new-host-keys (then recorded). Refusals are worded for the report.
import type { KnownHostsFile } from '../known-hosts.ts';
import { fingerprint, keyTypeOf } from '../known-hosts.ts';
import type { SshConnectFacts } from './facts.ts';

export interface HostKeyCheck {
  name: string;
  address: string;
  port: number;
  /** undefined: the known_hosts file could not be read (facts.hostKey.error says why). */
  kh: KnownHostsFile | undefined;
  khPath: string;
  acceptNew: boolean;
  facts: SshConnectFacts;
  /** Records why the key was refused: the connection error then says this, not ssh2's words. */
  refuse(why: string): void;
}

/** ssh2's hostVerifier for one node: fills facts.hostKey, and calls verify(ok). */
export function hostVerifier(c: HostKeyCheck): (key: Buffer, verify: (ok: boolean) => void) => void {
  const { facts, khPath, name, address, port } = c;
  return (key, verify) => {
    const type = keyTypeOf(key);
    const fp = fingerprint(key);
    facts.hostKey = { ...facts.hostKey, type, fingerprint: fp };
    const kh = c.kh;
    if (!kh) {
      facts.hostKey = { ...facts.hostKey, status: 'unknown' };
      c.refuse(`host key of ${name} cannot be verified: ${facts.hostKey.error}; refused`);
      return verify(false);
    }
    const v = kh.verify(address, port, key);
    if (v.status === 'known') {
      facts.hostKey = { ...facts.hostKey, status: 'known', line: v.line };
      return verify(true);
    }
    if (v.status === 'changed') {
      facts.hostKey = { ...facts.hostKey, status: 'changed', expected: v.expected };
      const exp = v.expected.map((e) => `${e.type} ${e.fingerprint} (${khPath}:${e.line})`).join(', ');
      c.refuse(`host key CHANGED for ${name} (${address}:${port}): expected ${exp}, presented ${type} ${fp}; refused`);
      return verify(false);
    }
    if (v.status === 'revoked') {
      facts.hostKey = { ...facts.hostKey, status: 'revoked', line: v.line };
      c.refuse(`host key of ${name} is marked @revoked in ${khPath}:${v.line}; refused`);
      return verify(false);
    }
    if (!c.acceptNew) {
      facts.hostKey = { ...facts.hostKey, status: 'unknown' };
      c.refuse(`host key of ${name} (${address}:${port}) is not in ${khPath}: ${type} ${fp}; refused (verify it, then run with --accept-new-host-keys)`);
      return verify(false);
    }
    kh.add(address, port, key).then(
      (line) => {
        facts.hostKey = { ...facts.hostKey, status: 'added', line };
        verify(true);
      },
      (err: Error) => {
        facts.hostKey = { ...facts.hostKey, status: 'unknown', error: err.message };
        c.refuse(`could not record the host key of ${name} in ${khPath}: ${err.message}`);
        verify(false);
      },
    );
  };
}
