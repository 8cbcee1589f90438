// known_hosts parsing and verdicts, checked against files and fingerprints that
// OpenSSH's own ssh-keygen writes (-H hashes entries, -l prints fingerprints).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KnownHostsFile,
  expandHome,
  fingerprint,
  hostKeyAlgorithmsFor,
  hostToken,
  keyTypeOf,
  parseKnownHosts,
  verifyHostKey,
} from '../../../../src/preflight/hosts/known-hosts.ts';

const dir = mkdtempSync(join(tmpdir(), 'ac-kh-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function makeKey(name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): { line: string; blob: Buffer; fp: string } {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', f]);
  const line = readFileSync(`${f}.pub`, 'utf8').trim();
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${f}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { line, blob: Buffer.from(line.split(' ')[1]!, 'base64'), fp };
}

const a = makeKey('a', 'ed25519');
const b = makeKey('b', 'ed25519');
const c = makeKey('c', 'ecdsa');

test('fingerprint and key type match ssh-keygen', () => {
  assert.equal(fingerprint(a.blob), a.fp);
  assert.equal(fingerprint(c.blob), c.fp);
  assert.equal(keyTypeOf(a.blob), 'ssh-ed25519');
  assert.equal(keyTypeOf(c.blob), 'ecdsa-sha2-nistp256');
});

test('host token uses [host]:port for ports other than 22', () => {
  assert.equal(hostToken('192.0.2.1', 22), '192.0.2.1');
  assert.equal(hostToken('192.0.2.1', 2222), '[192.0.2.1]:2222');
  assert.equal(hostToken('Node-1.LAB', 22), 'node-1.lab', 'lowercased, as ssh looks names up (hashed entries depend on it)');
});

test('plain entries: known, unknown, changed, and port-qualified names', () => {
  const [t, k] = a.line.split(' ');
  const entries = parseKnownHosts(`# comment\n\nnode1,192.0.2.1 ${t} ${k}\n[192.0.2.2]:2222 ${t} ${k}\n`);
  assert.deepEqual(verifyHostKey(entries, '192.0.2.1', 22, a.blob), { status: 'known', line: 3 });
  assert.deepEqual(verifyHostKey(entries, 'NODE1', 22, a.blob), { status: 'known', line: 3 }, 'host names compare case-insensitively');
  assert.deepEqual(verifyHostKey(entries, '192.0.2.2', 2222, a.blob), { status: 'known', line: 4 });
  // The same address on another port is another host for OpenSSH.
  assert.deepEqual(verifyHostKey(entries, '192.0.2.2', 22, a.blob), { status: 'unknown' });
  assert.deepEqual(verifyHostKey(entries, '192.0.2.1', 2222, a.blob), { status: 'unknown' });
  const changed = verifyHostKey(entries, '192.0.2.1', 22, b.blob);
  assert.equal(changed.status, 'changed');
  assert.deepEqual(changed.status === 'changed' && changed.expected, [{ type: 'ssh-ed25519', fingerprint: a.fp, line: 3 }]);
  // Only another key type is known: refused too (we offer the known types first).
  assert.equal(verifyHostKey(entries, '192.0.2.1', 22, c.blob).status, 'changed');
});

test('wildcards, negation, @revoked and @cert-authority', () => {
  const [t, k] = a.line.split(' ');
  const [tb, kb] = b.line.split(' ');
  const entries = parseKnownHosts(
    `198.51.*,!198.51.0.7 ${t} ${k}\n@revoked * ${tb} ${kb}\n@cert-authority *.lab ${t} ${k}\n@bogus x ${t} ${k}\n`,
  );
  assert.equal(verifyHostKey(entries, '198.51.3.4', 22, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '198.51.0.7', 22, a.blob).status, 'unknown');
  assert.equal(verifyHostKey(entries, 'x.lab', 22, a.blob).status, 'unknown', 'CA lines are not host keys');
  assert.deepEqual(verifyHostKey(entries, '198.51.3.4', 22, b.blob), { status: 'revoked', line: 2 });
});

test('hashed entries written by ssh-keygen -H are matched, for port 22 and [host]:port', () => {
  const f = join(dir, 'hashed');
  const [t, k] = a.line.split(' ');
  writeFileSync(f, `203.0.113.3 ${t} ${k}\n[203.0.113.4]:2200 ${t} ${k}\nmaster-1.lab ${t} ${k}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', f], { stdio: 'ignore' });
  const text = readFileSync(f, 'utf8');
  assert.match(text, /^\|1\|/m);
  assert.doesNotMatch(text, /203\.0\.113/);
  const entries = parseKnownHosts(text);
  assert.equal(entries.length, 3);
  assert.equal(verifyHostKey(entries, 'Master-1.LAB', 22, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '203.0.113.3', 22, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '203.0.113.4', 2200, a.blob).status, 'known');
  assert.equal(verifyHostKey(entries, '203.0.113.4', 22, a.blob).status, 'unknown');
  assert.equal(verifyHostKey(entries, '203.0.113.3', 22, b.blob).status, 'changed');
});

test('host key algorithms put the known types first', () => {
  const entries = parseKnownHosts(`h ${c.line}\n`);
  const algos = hostKeyAlgorithmsFor(entries, 'h', 22);
  assert.equal(algos[0], 'ecdsa-sha2-nistp256');
  assert.ok(algos.includes('ssh-ed25519'));
  assert.equal(hostKeyAlgorithmsFor(entries, 'other', 22)[0], 'ssh-ed25519');
});

test('add() records a key that OpenSSH then finds, keeps the file mode, writes through symlinks', async () => {
  const real = join(dir, 'kh-real');
  writeFileSync(real, `other ${b.line}`, { mode: 0o644 }); // no trailing newline
  const link = join(dir, 'kh-link');
  symlinkSync(real, link);
  const kh = KnownHostsFile.load(link);
  assert.equal(kh.verify('198.51.100.2', 2022, a.blob).status, 'unknown');
  await Promise.all([kh.add('198.51.100.2', 2022, a.blob), kh.add('198.51.100.3', 22, c.blob)]);
  assert.equal(kh.verify('198.51.100.2', 2022, a.blob).status, 'known');
  assert.equal(KnownHostsFile.load(link).verify('198.51.100.3', 22, c.blob).status, 'known');
  assert.equal(statSync(real).mode & 0o777, 0o644);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the symlink itself was kept');
  const found = execFileSync('ssh-keygen', ['-F', '[198.51.100.2]:2022', '-f', real], { encoding: 'utf8' });
  assert.match(found, /ssh-ed25519/);
  assert.match(readFileSync(real, 'utf8'), /^other .*\n\[198\.51\.100\.2\]:2022 /m, 'the missing newline was added, not glued');
  // Adding again is a no-op; a different key for a known host is refused.
  await kh.add('198.51.100.2', 2022, a.blob);
  assert.equal(readFileSync(real, 'utf8').split('\n').filter(Boolean).length, 3);
  await assert.rejects(kh.add('198.51.100.2', 2022, b.blob), /refusing/);
});

test('add() to a hashed file writes a hashed entry that ssh-keygen -F finds', async () => {
  const f = join(dir, 'kh-hashed');
  writeFileSync(f, `198.18.7.1 ${b.line}\n`);
  execFileSync('ssh-keygen', ['-q', '-H', '-f', f], { stdio: 'ignore' });
  await KnownHostsFile.load(f).add('198.18.7.2', 2222, a.blob);
  const text = readFileSync(f, 'utf8');
  assert.doesNotMatch(text, /198\.18\.7\.2/);
  assert.equal(text.trim().split('\n').filter((l) => l.startsWith('|1|')).length, 2);
  assert.match(execFileSync('ssh-keygen', ['-F', '[198.18.7.2]:2222', '-f', f], { encoding: 'utf8' }), /ssh-ed25519/);
});

test('a new known_hosts file is created 0600 in a new directory', async () => {
  const f = join(dir, 'new', '.ssh', 'known_hosts');
  await KnownHostsFile.load(f).add('h1', 22, a.blob);
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.equal(KnownHostsFile.load(f).verify('h1', 22, a.blob).status, 'known');
});

test('expandHome', () => {
  assert.equal(expandHome('~/.ssh/id', '/home/u'), '/home/u/.ssh/id');
  assert.equal(expandHome('./id', '/home/u'), './id');
});
