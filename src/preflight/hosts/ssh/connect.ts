// Connecting to a node over SSH, in phases (TCP, SSH handshake + host key, authentication)
// so the ssh.* checks can say which one failed; the facts of each phase are kept in
// `SshConnectFacts`, also for a node that never answered (UnreachableHost).
import type { Socket } from 'node:net';
import { userInfo } from 'node:os';
import { isAbsolute, normalize, resolve as resolveFrom } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as SshClient, ConnectConfig } from 'ssh2';
import { KnownHostsFile, defaultKnownHostsFile, expandHome } from '../known-hosts.ts';
import { createLocalHost } from '../local.ts';
import { authMethods, type AuthMethod } from './auth.ts';
import type { SshConnectFacts } from './facts.ts';
import { SshHost } from './host.ts';
import { hostVerifier } from './host-key.ts';
import type { SshConnectOptions, SshTarget } from './target.ts';
import { describeSocketError } from './tcp-error.ts';
import { UnreachableHost } from './unreachable.ts';

const { Client } = ssh2;

/** One connection attempt: what it was asked to do and what it found out so far. */
interface Attempt {
  t: SshTarget;
  opts: SshConnectOptions;
  port: number;
  user: string;
  khPath: string;
  /** undefined: known_hosts unreadable (facts.hostKey.error says why). */
  kh: KnownHostsFile | undefined;
  facts: SshConnectFacts;
  /** ms left of connectTimeoutMs (at least 1). */
  left(): number;
  /** Why we refused (host key, no method left): said instead of ssh2's own error. */
  rejection?: string;
  /** The authentication method being tried; the one that succeeded once ready. */
  current?: AuthMethod;
}

/**
 * Connects to a node. Always resolves: `host` is an SshHost when authentication
 * succeeded, otherwise an UnreachableHost whose operations fail at once; `facts`
 * tell what happened in each phase.
 */
export async function connectSsh(t: SshTarget, opts: SshConnectOptions): Promise<SshHost | UnreachableHost> {
  const t0 = performance.now();
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? userInfo().homedir;
  // Normalised, so reports show /site/known_hosts, not /site/./known_hosts.
  const resolvePath = (p: string) => (isAbsolute(p) || !opts.baseDir ? normalize(p) : resolveFrom(opts.baseDir, p));
  const port = t.port ?? 22;
  const user = t.user ?? userInfo().username;
  const khPath = t.knownHostsFile ? resolvePath(expandHome(t.knownHostsFile, home)) : defaultKnownHostsFile(home);
  const facts: SshConnectFacts = {
    address: t.address,
    port,
    user,
    tcp: { ok: false },
    handshake: { ok: false },
    hostKey: { status: 'unchecked', file: khPath },
    auth: { ok: false, tried: [] },
    durationMs: 0,
  };
  const deadline = Date.now() + opts.connectTimeoutMs;
  const a: Attempt = { t, opts, port, user, khPath, kh: loadKnownHosts(khPath, facts), facts, left: () => Math.max(1, deadline - Date.now()) };
  const done = (reason: string) => {
    facts.durationMs = Math.round(performance.now() - t0);
    return new UnreachableHost(t.name, t.address, facts, reason);
  };

  // Phase 1: TCP.
  const sock = await dialTcp(a);
  if (typeof sock === 'string') return done(sock);

  // Phase 2+3: handshake (host key verified inside it), then authentication.
  const { methods, problems, fixes } = authMethods(t, user, env, home, resolvePath);
  if (fixes.length) facts.auth.problems = fixes;
  const client = new Client();
  const result = await handshakeAndLogin(a, client, connectConfig(a, sock, methods, problems));
  if (result !== 'ready') {
    sock.destroy();
    client.destroy();
    recordFailure(facts, result);
    return done(result);
  }
  facts.auth = { ...facts.auth, ok: true, method: a.current?.type };
  facts.durationMs = Math.round(performance.now() - t0);
  return new SshHost(t.name, t.address, facts, client, t.sudo ?? false, opts.batchReads ?? true);
}

function loadKnownHosts(khPath: string, facts: SshConnectFacts): KnownHostsFile | undefined {
  try {
    return KnownHostsFile.load(khPath);
  } catch (err) {
    // Unreadable (not missing): no key can be verified, and none is recorded over it.
    facts.hostKey.error = `cannot read ${khPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return undefined;
  }
}

/** Phase 1: the socket to sshd, or why there is none (facts.tcp filled either way). */
async function dialTcp(a: Attempt): Promise<Duplex | string> {
  const { t, opts, facts } = a;
  const tTcp = performance.now();
  try {
    // The same TCP dial as probes from this machine use, or the last jump host's channel.
    const sock = await (opts.dial ?? ((ad, p, o) => createLocalHost().connectTcp(ad, p, o)))(t.address, a.port, { timeoutMs: a.left(), signal: opts.signal });
    (sock as Socket).setNoDelay?.(true); // many small request/reply packets: Nagle + delayed ACK would add ~40 ms to each
    facts.tcp = { ok: true, ms: Math.round(performance.now() - tTcp) };
    return sock;
  } catch (err) {
    const d = opts.signal?.aborted ? { state: 'timeout' as const, error: 'aborted (overall deadline)' } : describeSocketError(err as NodeJS.ErrnoException);
    facts.tcp = { ok: false, ms: Math.round(performance.now() - tTcp), ...d };
    return d.error;
  }
}

/** ssh2's settings: our host key check, and the site's methods offered one by one. */
function connectConfig(a: Attempt, sock: Duplex, methods: AuthMethod[], problems: string[]): ConnectConfig {
  const { t, port, user, facts } = a;
  let next = 0;
  return {
    sock,
    username: user,
    readyTimeout: 0, // our own timer covers handshake + auth
    algorithms: { serverHostKey: (a.kh ?? KnownHostsFile.empty(a.khPath)).hostKeyAlgorithms(t.address, port) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
    hostVerifier: hostVerifier({
      name: t.name,
      address: t.address,
      port,
      kh: a.kh,
      khPath: a.khPath,
      acceptNew: a.opts.acceptNewHostKeys ?? false,
      facts,
      refuse: (why) => (a.rejection = why),
    }) as unknown as ConnectConfig['hostVerifier'],
    authHandler: ((_left: unknown, _partial: unknown, cb: (m: unknown) => void) => {
      a.current = methods[next++];
      if (!a.current) {
        a.rejection = `authentication failed for ${user}@${t.address}: ${facts.auth.tried.length ? `the server refused ${facts.auth.tried.join(', ')}` : 'no key, agent or password to try'}${problems.length ? `; ${problems.join('; ')}` : ''}`;
        return cb(false);
      }
      facts.auth.tried.push(a.current.label);
      const { label: _label, ...m } = a.current;
      cb(m);
    }) as unknown as ConnectConfig['authHandler'],
  };
}

/** Phases 2+3 within the time left: 'ready', or why not. */
function handshakeAndLogin(a: Attempt, client: SshClient, cfg: ConnectConfig): Promise<'ready' | string> {
  const { opts, facts } = a;
  const tHs = performance.now();
  return new Promise<'ready' | string>((resolve) => {
    let settled = false;
    const settle = (v: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const timer = setTimeout(() => {
      settle(`no SSH answer within ${opts.connectTimeoutMs} ms (${facts.handshake.ok ? 'authentication' : 'handshake'} did not finish)`);
      client.destroy();
    }, a.left());
    const onAbort = () => {
      settle('aborted (overall deadline)');
      client.destroy();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    client.on('handshake', () => {
      facts.handshake = { ok: true, ms: Math.round(performance.now() - tHs), serverVersion: (client as unknown as { _remoteVer?: string })._remoteVer };
    });
    client.once('ready', () => settle('ready'));
    client.on('error', (err: Error & { level?: string }) => settle(a.rejection ?? (err.level === 'client-authentication' ? `authentication failed: ${err.message}` : err.message)));
    client.on('close', () => settle(a.rejection ?? 'connection closed by the node'));
    try {
      client.connect(cfg);
    } catch (err) {
      settle((err as Error).message);
    }
  });
}

/** The failure goes to the phase it belongs to (a refused host key already says so itself). */
function recordFailure(facts: SshConnectFacts, result: string): void {
  if (facts.handshake.ok && facts.hostKey.status !== 'changed' && facts.hostKey.status !== 'revoked' && facts.hostKey.status !== 'unknown') {
    facts.auth = { ...facts.auth, ok: false, error: result };
  } else if (!facts.handshake.ok && facts.hostKey.status === 'unchecked') {
    facts.handshake = { ...facts.handshake, ok: false, error: result };
  }
}
