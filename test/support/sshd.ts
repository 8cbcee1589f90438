// Real OpenSSH sshd instances for tests: own host key, own config, foreground
// (-D -e), optionally inside a network namespace (and a UTS namespace with its
// own hostname). Keys are made with ssh-keygen; everything lives under `dir`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess, waitForPort, type Server } from './process.ts';

export interface KeyPair {
  privateKeyFile: string;
  /** `type base64 comment` */
  publicKey: string;
  /** The public key blob (what a server presents). */
  blob: Buffer;
}

export function makeKey(file: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', passphrase = ''): KeyPair {
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', passphrase, '-C', 'astrago-check-test', '-f', file]);
  const publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
  return { privateKeyFile: file, publicKey, blob: Buffer.from(publicKey.split(' ')[1]!, 'base64') };
}

/** `ssh-keygen -l` fingerprint (SHA256:...) of a public key file. */
export function fingerprintOf(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' }).split(' ')[1]!;
}

export interface SshdOptions {
  /** Directory for config, keys, pid file (must exist). */
  dir: string;
  address: string;
  /** Ports to listen on (sshd answers on each). */
  ports: number[];
  /** Public keys allowed to log in (any user). */
  authorizedKeys: string[];
  allowTcpForwarding?: boolean;
  /** Accept passwords (checked against the shadow file: UsePAM is off). */
  passwordAuthentication?: boolean;
  /** Offer the sftp subsystem (default true, as Debian's sshd_config does). */
  sftp?: boolean;
  /** Run inside this network namespace. */
  netns?: string;
  /** Run sshd through this command (e.g. ['unshare', '-m', …] for a mount namespace of its own). */
  wrap?: string[];
  /** Give sshd (and so every session) its own UTS namespace with this hostname. */
  hostname?: string;
  /** Reuse this host key instead of making one. */
  hostKey?: KeyPair;
  extraConfig?: string[];
}

export interface Sshd {
  address: string;
  ports: number[];
  hostKey: KeyPair;
  hostKeyFingerprint: string;
  server: Server;
  /** known_hosts line for port (`[addr]:port` form when not 22). */
  knownHostsLine(port?: number): string;
  stop(): Promise<void>;
}

export async function startSshd(o: SshdOptions): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true }); // privilege separation directory
  const hostKey = o.hostKey ?? makeKey(join(o.dir, 'ssh_host_ed25519_key'));
  const authorized = join(o.dir, 'authorized_keys');
  writeFileSync(authorized, o.authorizedKeys.join('\n') + '\n', { mode: 0o644 }); // sshd reads it as the logging-in user
  const config = join(o.dir, 'sshd_config');
  writeFileSync(
    config,
    [
      ...o.ports.map((p) => `Port ${p}`),
      `ListenAddress ${o.address}`,
      `HostKey ${hostKey.privateKeyFile}`,
      `PidFile ${join(o.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      `PasswordAuthentication ${o.passwordAuthentication ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      `AllowTcpForwarding ${o.allowTcpForwarding === false ? 'no' : 'yes'}`,
      // Many clients at once in the benchmark: no random early drop of new connections.
      'MaxStartups 1000',
      'LogLevel ERROR',
      ...(o.sftp === false ? [] : ['Subsystem sftp internal-sftp']),
      ...(o.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const sshd = [...(o.wrap ?? []), '/usr/sbin/sshd', '-D', '-e', '-f', config];
  const inUts = o.hostname ? ['unshare', '--uts', 'sh', '-c', `hostname "$0" && exec "$@"`, o.hostname, ...sshd] : sshd;
  const argv = o.netns ? ['ip', 'netns', 'exec', o.netns, ...inUts] : inUts;
  const server = startProcess(argv);
  try {
    // Loopback inside a namespace is out of the host's reach: wait from inside it.
    const inside = o.netns && /^127\./.test(o.address);
    for (const p of o.ports) await (inside ? waitInNetns(o.netns!, o.address, p, server) : waitForPort(o.address, p, 10_000, server.child));
  } catch (err) {
    await server.stop();
    throw new Error(`sshd on ${o.address} did not start: ${(err as Error).message}\n${server.output()}`);
  }
  const line = (port = o.ports[0]!) => `${port === 22 ? o.address : `[${o.address}]:${port}`} ${hostKey.publicKey.split(' ').slice(0, 2).join(' ')}`;
  return {
    address: o.address,
    ports: o.ports,
    hostKey,
    hostKeyFingerprint: fingerprintOf(`${hostKey.privateKeyFile}.pub`),
    server,
    knownHostsLine: line,
    async stop() {
      await server.stop();
      await sleep(0);
    },
  };
}

async function waitInNetns(netns: string, address: string, port: number, server: Server): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`sshd exited with ${server.child.exitCode}`);
    try {
      execFileSync('ip', ['netns', 'exec', netns, 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`], { stdio: 'ignore' });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${address}:${port} in ${netns}`);
      await sleep(50);
    }
  }
}

/**
 * A throw-away login for sshd tests (home: a temp directory named ac-fleet…), shell /bin/sh, unlocked for key logins
 * (`usermod -p '*'`, or a crypt hash of `password`). `uid0`: a root-equivalent alias
 * (root's own login shell here sources a heavy ~/.bashrc on every command).
 * Names must end in the creating process's pid so that stale ones can be found.
 */
export function createLoginUser(name: string, home: string, opts: { uid0?: boolean; password?: string } = {}): { name: string; remove(): void } {
  removeStaleUsers();
  execFileSync('useradd', [...(opts.uid0 ? ['-o', '-u', '0', '-g', '0'] : []), '-M', '-d', home, '-s', '/bin/sh', name], { stdio: 'ignore' });
  const hash = opts.password ? execFileSync('openssl', ['passwd', '-6', opts.password], { encoding: 'utf8' }).trim() : '*';
  execFileSync('usermod', ['-p', hash, name]);
  // -f: a uid-0 account always "is used by" some process of root.
  return { name, remove: () => execFileSync('userdel', ['-f', name], { stdio: 'ignore' }) };
}

/**
 * Removes logins left by killed runs: named `ac[b]<pid>[u|r]`, home under a temp
 * directory `ac-fleet…`, and their process gone. Nothing else is touched.
 */
export function removeStaleUsers(): void {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , , , , home] = line.split(':');
    const m = /^acb?(\d+)[ur]?$/.exec(name ?? '');
    if (!m || !/\/ac-fleet[^/]*$/.test(home ?? '')) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) {
      try {
        execFileSync('userdel', ['-f', name!], { stdio: 'ignore' });
      } catch {
        // another run removed it
      }
    }
  }
}
