// SSHSIG with every key type we sign with, both ways against OpenSSH's
// ssh-keygen: Ed25519, ECDSA P-256/P-384/P-521 and RSA (rsa-sha2-512).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrivateKey } from '../../src/bundle/sign/ssh-keys.ts';
import { BUNDLE_NAMESPACE, parseSshsig, signDigest, verifyDigest } from '../../src/bundle/sign/sshsig.ts';

let dir: string;
const message = Buffer.from('a bundle tar, or any bytes\n'.repeat(1000));

function sshKeygen(args: string[], input?: Buffer): { code: number | null; out: string } {
  const r = spawnSync('ssh-keygen', args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`ssh-keygen is required for this test: ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ac-sshsig-'));
  writeFileSync(join(dir, 'message'), message);
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, args] of [
  ['ed25519', ['-t', 'ed25519']],
  ['ecdsa-256', ['-t', 'ecdsa', '-b', '256']],
  ['ecdsa-384', ['-t', 'ecdsa', '-b', '384']],
  ['ecdsa-521', ['-t', 'ecdsa', '-b', '521']],
  ['rsa-3072', ['-t', 'rsa', '-b', '3072']],
] as const) {
  test(`${name}: ssh-keygen verifies ours, we verify ssh-keygen's`, () => {
    const key = join(dir, name);
    assert.equal(sshKeygen(['-q', ...args, '-N', '', '-C', name, '-f', key]).code, 0);
    const signers = join(dir, `${name}.signers`);
    writeFileSync(signers, `me@example.com ${readFileSync(`${key}.pub`, 'utf8')}`);

    const ours = join(dir, `${name}.ours.sig`);
    writeFileSync(ours, signDigest(parsePrivateKey(readFileSync(key)), BUNDLE_NAMESPACE, 'sha512', createHash('sha512').update(message).digest()));
    const v = sshKeygen(['-Y', 'verify', '-f', signers, '-I', 'me@example.com', '-n', BUNDLE_NAMESPACE, '-s', ours], message);
    assert.equal(v.code, 0, v.out);

    const made = sshKeygen(['-Y', 'sign', '-f', key, '-n', BUNDLE_NAMESPACE, join(dir, 'message')]);
    assert.equal(made.code, 0, made.out);
    const theirs = parseSshsig(readFileSync(join(dir, 'message.sig'), 'utf8'));
    rmSync(join(dir, 'message.sig'));
    assert.ok(verifyDigest(theirs, BUNDLE_NAMESPACE, createHash(theirs.hashAlgorithm).update(message).digest()));
    assert.ok(!verifyDigest(theirs, BUNDLE_NAMESPACE, createHash(theirs.hashAlgorithm).update(Buffer.concat([message, Buffer.from('x')])).digest()), 'another message fails');
    assert.ok(!verifyDigest(theirs, 'file', createHash(theirs.hashAlgorithm).update(message).digest()), 'another namespace fails');
  });
}
