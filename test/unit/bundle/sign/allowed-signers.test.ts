import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { judgeSigner, matchPatternList, parseAllowedSigners, parseSshTime } from '../../../../src/bundle/sign/allowed-signers.ts';
import { sshString } from '../../../../src/bundle/sign/ssh-wire.ts';

function edBlob(): Buffer {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
}

test('pattern lists: wildcards, negation vetoes, case-sensitive', () => {
  assert.ok(matchPatternList(['*@example.com'], 'ops@example.com'));
  assert.ok(!matchPatternList(['*@example.com', '!ops@*'], 'ops@example.com'));
  assert.ok(!matchPatternList(['OPS@example.com'], 'ops@example.com'));
  assert.ok(matchPatternList(['a?c'], 'abc'));
});

test('SSH times: dates, minutes, seconds, UTC', () => {
  assert.equal(parseSshTime('20250102Z')?.toISOString(), '2025-01-02T00:00:00.000Z');
  assert.equal(parseSshTime('202501021530Z')?.toISOString(), '2025-01-02T15:30:00.000Z');
  assert.equal(parseSshTime('20250102153045Z')?.toISOString(), '2025-01-02T15:30:45.000Z');
  assert.equal(parseSshTime('2025-01-02'), undefined);
});

test('options are honoured: namespaces, validity window, cert-authority lines never match a plain key', () => {
  const k = edBlob();
  const b64 = k.toString('base64');
  const signers = parseAllowedSigners(
    [`a@x namespaces="git,file" ssh-ed25519 ${b64}`, `b@x valid-after="20300101Z" ssh-ed25519 ${b64}`, `c@x valid-before="20200101Z" ssh-ed25519 ${b64}`, `d@x cert-authority ssh-ed25519 ${b64}`].join('\n'),
    'signers',
  );
  assert.equal(signers.length, 4);
  const now = new Date('2026-06-01T00:00:00Z');
  const v = judgeSigner(signers, k, 'astrago-bundle', { file: 'signers', now });
  assert.equal(v.ok, false);
  assert.match((v as { reason: string }).reason, /line 1 allows it only for namespaces git,file.*line 2 makes it valid only after 2030.*line 3 made it valid only before 2020/);
  const ok = judgeSigner(parseAllowedSigners(`"a@x,b@x" namespaces="astrago-bundle,git" ssh-ed25519 ${b64} comment`, 's'), k, 'astrago-bundle', { file: 's', identity: 'b@x', now });
  assert.deepEqual(ok.ok && ok.principals, ['b@x']);
});

test('a damaged line names its line and field', () => {
  assert.throws(() => parseAllowedSigners('\n\nx@y ssh-ed25519 AAAA\n', 'f'), /f:3: field 'ssh-ed25519'/);
  assert.throws(() => parseAllowedSigners(`x@y bogus=1 ssh-ed25519 ${edBlob().toString('base64')}`, 'f'), /f:1: field 'bogus'/);
  assert.throws(() => parseAllowedSigners('x@y\n', 'f'), /f:1: expected an allowed_signers line 'PRINCIPALS \[OPTIONS\] KEYTYPE BASE64KEY/);
});
