// What the SSH host tries to log in with, from the site's references only, and how
// it quotes commands for the node's shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authMethods } from '../../../../../src/preflight/hosts/ssh/auth.ts';
import { classifyTcpError } from '../../../../../src/preflight/hosts/ssh/tcp-error.ts';
import { connectSsh } from '../../../../../src/preflight/hosts/ssh/connect.ts';
import { shQuote } from '../../../../../src/preflight/hosts/quote.ts';
import { UnreachableHost } from '../../../../../src/preflight/hosts/ssh/unreachable.ts';
import { freePort } from '../../../../support/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'ac-sshauth-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const id = (p: string) => (p.startsWith('/') ? p : join(dir, p));

test('key file (~ expanded, relative to the site), agent, then password from a file', () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, '.ssh', 'site_key')]);
  writeFileSync(join(dir, 'pw.txt'), 'file-secret-1\n');
  const { methods, problems } = authMethods({ name: 'n', address: 'a', keyFile: '~/.ssh/site_key', passwordFile: 'pw.txt' }, 'u', { SSH_AUTH_SOCK: '/tmp/agent.sock' }, home, id);
  assert.deepEqual(problems, []);
  assert.deepEqual(methods.map((m) => m.label), [`publickey ${home}/.ssh/site_key`, 'agent', 'password']);
  assert.equal((methods[2] as { password: string }).password, 'file-secret-1', 'trailing newline dropped');
});

test('default keys when no keyFile; problems name references, never values', () => {
  const home = join(dir, 'home2');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'the-passphrase-value', '-f', join(home, '.ssh', 'id_ed25519')]);
  const wrong = authMethods({ name: 'n', address: 'a', passphraseEnv: 'KP', passwordEnv: 'PW' }, 'u', { KP: 'not-the-passphrase' }, home, id);
  assert.deepEqual(wrong.methods, []);
  const text = wrong.problems.join('\n');
  assert.match(text, /id_ed25519 is encrypted: the passphrase in KP does not decrypt it/);
  assert.match(text, /ssh.passwordEnv names PW, which is not set/);
  assert.ok(!text.includes('not-the-passphrase') && !text.includes('the-passphrase-value'));
  const right = authMethods({ name: 'n', address: 'a', passphraseEnv: 'KP' }, 'u', { KP: 'the-passphrase-value' }, home, id);
  assert.deepEqual(right.methods.map((m) => m.type), ['publickey']);
  const missing = authMethods({ name: 'n', address: 'a', keyFile: 'nope' }, 'u', {}, home, id);
  assert.match(missing.problems[0]!, /key file .*nope: ENOENT/);
});

test('shell quoting survives the node shell', () => {
  for (const s of ['plain', "it's", 'a b', '$(id)', '`x`', '"q"', '', 'x;y']) {
    assert.equal(execFileSync('sh', ['-c', `printf %s ${shQuote(s)}`], { encoding: 'utf8' }), s);
  }
});

test('connect errors classified: refused, filtered, unreachable, dns', () => {
  assert.equal(classifyTcpError(new Error('(SSH) Channel open failure: Connection refused')), 'refused');
  assert.equal(classifyTcpError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })), 'filtered');
  assert.equal(classifyTcpError(new Error('bash: connect: No route to host')), 'unreachable');
  assert.equal(classifyTcpError(new Error('bash: node-9: Name or service not known')), 'dns');
});

test('paths from the site file are shown normalised (no /./ or ../ in reports)', async () => {
  const port = await freePort(); // nothing listens: the connection is refused at once
  const h = await connectSsh({ name: 'n', address: '127.0.0.1', port, knownHostsFile: './sub/../known_hosts', keyFile: './id' }, { connectTimeoutMs: 2000, baseDir: `${dir}/.`, env: {} });
  assert.ok(h instanceof UnreachableHost);
  assert.equal(h.connectFacts.hostKey.file, join(dir, 'known_hosts'));
});
