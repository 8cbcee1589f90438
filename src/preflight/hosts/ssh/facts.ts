// What a connection attempt found out, phase by phase, and how a failed one is told:
// the ssh.* checks read the facts, every other check of the node only the one-line why.
import type { KnownKey } from '../known-hosts.ts';

export type HostKeyStatus = 'known' | 'added' | 'unknown' | 'changed' | 'revoked' | 'unchecked';

/** What the connection attempt found out, phase by phase (no secrets). */
export interface SshConnectFacts {
  address: string;
  port: number;
  user: string;
  tcp: { ok: boolean; ms?: number; state?: 'refused' | 'timeout' | 'unreachable' | 'dns' | 'error'; error?: string };
  handshake: { ok: boolean; ms?: number; serverVersion?: string; error?: string };
  hostKey: {
    status: HostKeyStatus;
    file: string;
    type?: string;
    fingerprint?: string;
    line?: number;
    expected?: KnownKey[];
    error?: string;
  };
  auth: {
    ok: boolean;
    method?: string;
    tried: string[];
    error?: string;
    /** What is wrong with the site's credential references (unset variable, unreadable key), and the fix of each. */
    problems?: { problem: string; fix: string }[];
  };
  durationMs: number;
}

/** Thrown by every operation of a node whose connection failed. */
export class NodeUnreachableError extends Error {
  readonly code = 'ERR_NODE_UNREACHABLE';
  /** `message` replaces the default "node unreachable: NODE (REASON)" (see UnreachableHost.why). */
  constructor(node: string, reason: string, message = `node unreachable: ${node} (${reason})`) {
    super(message);
    this.name = 'NodeUnreachableError';
  }
}

/**
 * Why nothing could be checked on a node, by the phase that failed: not reached at all,
 * no SSH handshake, host key refused, or not logged in. The details (fingerprints, methods
 * tried) belong to ssh.reachable, ssh.hostkey and ssh.auth, not to every unchecked check.
 */
export function notCheckedWhy(f: SshConnectFacts, reason: string): string {
  if (!f.tcp.ok) return `node unreachable (${f.tcp.error ?? reason})`;
  if (['unknown', 'changed', 'revoked'].includes(f.hostKey.status)) return `not logged in: the host key was refused (${f.hostKey.status === 'unknown' ? 'unknown key' : f.hostKey.status}; see ssh.hostkey)`;
  if (!f.handshake.ok && !f.hostKey.type) return `SSH handshake failed (${f.handshake.error ?? reason}; see ssh.reachable)`;
  return 'not logged in: authentication failed (see ssh.auth)';
}
