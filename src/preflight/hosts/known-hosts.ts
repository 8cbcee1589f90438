// OpenSSH known_hosts: parsing, matching (plain, wildcard and hashed `|1|salt|hash`
// entries, `[host]:port` for non-22 ports) and the verdict on a presented host
// key. Recording a new key (accept-new) writes a temp file and renames it, so a
// failure never leaves a truncated known_hosts behind.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface KnownHostEntry {
  line: number;
  marker?: 'cert-authority' | 'revoked';
  /** Comma-separated patterns (plain entries) ... */
  patterns?: string[];
  /** ... or the salt and HMAC-SHA1 of a hashed entry. */
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
}

export interface KnownKey {
  type: string;
  fingerprint: string;
  line: number;
}

export type HostKeyVerdict =
  | { status: 'known'; line: number }
  | { status: 'unknown' }
  /** The host is known with other keys: a same-type key differs, or only other types are known. */
  | { status: 'changed'; expected: KnownKey[] }
  | { status: 'revoked'; line: number };

/** `~/...` -> home; everything else unchanged. */
export function expandHome(path: string, home = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

export function defaultKnownHostsFile(home = homedir()): string {
  return join(home, '.ssh', 'known_hosts');
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise, lowercased as ssh does. */
export function hostToken(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** OpenSSH's SHA256 fingerprint of a public key blob: `SHA256:` + unpadded base64. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH public key blob (first length-prefixed string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const n = key.readUInt32BE(0);
  if (n > 64 || 4 + n > key.length) return 'unknown';
  return key.subarray(4, 4 + n).toString('latin1');
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@cert-authority' || fields[0] === '@revoked') marker = fields.shift()!.slice(1) as KnownHostEntry['marker'];
    else if (fields[0]!.startsWith('@')) continue; // unknown marker: ignored, as OpenSSH does
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64) continue;
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0) continue;
    const entry: KnownHostEntry = { line: i + 1, keyType, key, ...(marker ? { marker } : {}) };
    if (hostField.startsWith('|1|')) {
      const [, , salt, hash] = hostField.split('|');
      if (!salt || !hash) continue;
      entry.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      entry.patterns = hostField.split(',').filter(Boolean);
    }
    entries.push(entry);
  }
  return entries;
}

/** `|1|salt|HMAC-SHA1(salt, name)`, as ssh-keygen -H writes. */
export function hashedName(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const globs = new Map<string, RegExp>();

function globMatch(pattern: string, text: string): boolean {
  // Most patterns name one host: a plain comparison (a site of hundreds of nodes looks up each
  // of them in a file of hundreds of entries).
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === text.toLowerCase();
  let re = globs.get(pattern);
  if (!re) globs.set(pattern, (re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i')));
  return re.test(text);
}

/** Per parsed file, the entries naming each host token (lookups repeat: algorithms, then verify). */
const matchMemo = new WeakMap<KnownHostEntry[], Map<string, KnownHostEntry[]>>();

function entriesFor(entries: KnownHostEntry[], token: string): KnownHostEntry[] {
  let memo = matchMemo.get(entries);
  if (!memo) matchMemo.set(entries, (memo = new Map()));
  let found = memo.get(token);
  if (!found) memo.set(token, (found = entries.filter((e) => entryMatches(e, token))));
  return found;
}

/** Does the entry name this host token? Negated patterns (`!pat`) veto a match. */
export function entryMatches(entry: KnownHostEntry, token: string): boolean {
  if (entry.hashed) {
    const h = createHmac('sha1', entry.hashed.salt).update(token).digest();
    return h.length === entry.hashed.hash.length && h.equals(entry.hashed.hash);
  }
  let matched = false;
  for (const p of entry.patterns ?? []) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), token)) return false;
    } else if (globMatch(p, token)) matched = true;
  }
  return matched;
}

/** Judges a presented host key against parsed entries (certificate authorities are not used). */
export function verifyHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const token = hostToken(host, port);
  const matching = entriesFor(entries, token).filter((e) => e.marker !== 'cert-authority');
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const plain = matching.filter((e) => !e.marker);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { status: 'known', line: same.line };
  if (plain.length === 0) return { status: 'unknown' };
  // Known with a different key. OpenSSH calls a same-type mismatch "changed"; when only other
  // key types are known it asks. We negotiate the known types first (see
  // hostKeyAlgorithmsFor), so a server offering none of them is refused too: fail closed.
  return { status: 'changed', expected: plain.map((e) => ({ type: e.keyType, fingerprint: fingerprint(e.key), line: e.line })) };
}

const ALGOS_FOR_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_ORDER = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * Host key algorithms to offer, the types already known for this host first: a
 * server with several host keys then presents the one we can verify (as OpenSSH does).
 */
export function hostKeyAlgorithmsFor(entries: KnownHostEntry[], host: string, port: number): string[] {
  const token = hostToken(host, port);
  const known = entriesFor(entries, token).filter((e) => !e.marker).flatMap((e) => ALGOS_FOR_TYPE[e.keyType] ?? []);
  return [...new Set([...known, ...DEFAULT_ORDER])];
}

export class KnownHostsFile {
  readonly path: string;
  private entries: KnownHostEntry[];
  /** Appends in this process are serialised (several nodes may be accepted at once). */
  private static queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, entries: KnownHostEntry[]) {
    this.path = path;
    this.entries = entries;
  }

  /** A file without entries (nothing known). */
  static empty(path: string): KnownHostsFile {
    return new KnownHostsFile(path, []);
  }

  /** Parsed files of this process, by path, while unchanged on disk (every node of a site reads the same one). */
  private static parsed = new Map<string, { stamp: string; entries: KnownHostEntry[] }>();

  /** Loads the file; a missing file is an empty one. */
  static load(path: string): KnownHostsFile {
    let text = '';
    let stamp = 'missing';
    try {
      const st = statSync(path);
      stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      const hit = KnownHostsFile.parsed.get(path);
      if (hit?.stamp === stamp) return new KnownHostsFile(path, hit.entries);
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const entries = parseKnownHosts(text);
    KnownHostsFile.parsed.set(path, { stamp, entries });
    return new KnownHostsFile(path, entries);
  }

  verify(host: string, port: number, key: Buffer): HostKeyVerdict {
    return verifyHostKey(this.entries, host, port, key);
  }

  hostKeyAlgorithms(host: string, port: number): string[] {
    return hostKeyAlgorithmsFor(this.entries, host, port);
  }

  /**
   * Records `host`'s key, as OpenSSH's StrictHostKeyChecking=accept-new does. Re-reads
   * the file first (another run may have added it), writes a temp file beside it and
   * renames it over the original, keeping its mode (0600 for a new file).
   */
  async add(host: string, port: number, key: Buffer): Promise<number> {
    const run = KnownHostsFile.queue.then(() => this.addNow(host, port, key));
    KnownHostsFile.queue = run.catch(() => undefined);
    return await run;
  }

  private addNow(host: string, port: number, key: Buffer): number {
    let target = this.path;
    try {
      target = realpathSync(this.path); // write through a symlinked known_hosts
    } catch {
      // does not exist yet
    }
    let current = '';
    let mode = 0o600;
    try {
      current = readFileSync(target, 'utf8');
      mode = statSync(target).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    }
    const existing = parseKnownHosts(current);
    const v = verifyHostKey(existing, host, port, key);
    if (v.status === 'known') {
      this.entries = existing;
      return v.line;
    }
    if (v.status !== 'unknown') throw new Error(`refusing to record a key for ${hostToken(host, port)}: the file now holds another key`);
    const sep = current === '' || current.endsWith('\n') ? '' : '\n';
    // A file whose entries are all hashed (HashKnownHosts yes) gets a hashed entry too.
    const name = existing.length > 0 && existing.every((e) => e.hashed) ? hashedName(hostToken(host, port)) : hostToken(host, port);
    const next = `${current}${sep}${name} ${keyTypeOf(key)} ${key.toString('base64')}\n`;
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const fd = openSync(tmp, 'wx', mode);
      try {
        writeSync(fd, next);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, mode);
      renameSync(tmp, target);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // already renamed or never written
      }
      throw err;
    }
    this.entries = parseKnownHosts(next);
    return next.split('\n').length - 1;
  }
}
