// bundle sign / verify --allowed-signers against OpenSSH's ssh-keygen both
// ways: ssh-keygen -Y verify accepts our FILE.tar.sig; we accept what
// ssh-keygen -Y sign wrote; and verify fails closed (unsigned, another key,
// another file's signature, a tampered tar, a revoked key, another identity).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLayout, singlePlatformImage } from '../support/images.ts';
import { buildBundle, type BuiltBundle } from '../support/bundle-fixture.ts';
import { runBinary } from '../support/run-binary.ts';
import { startRegistry } from '../support/registry.ts';
import { existsSync, readdirSync } from 'node:fs';

let dir: string;
let good: BuiltBundle;
let other: BuiltBundle;

function sshKeygen(args: string[], input?: Buffer): { code: number | null; out: string } {
  const r = spawnSync('ssh-keygen', args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`ssh-keygen is required for this test: ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function keypair(name: string, type: string[], passphrase = ''): { key: string; pub: string } {
  const key = join(dir, name);
  const r = sshKeygen(['-q', ...type, '-N', passphrase, '-C', `${name}@test`, '-f', key]);
  assert.equal(r.code, 0, r.out);
  return { key, pub: readFileSync(`${key}.pub`, 'utf8').trim() };
}

let ed: { key: string; pub: string };
let ec: { key: string; pub: string };
let stranger: { key: string; pub: string };
let signers: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-sign-'));
  const lay = createLayout(join(dir, 'layout'));
  await singlePlatformImage(lay, 'app', { layerSizes: [50_000] });
  good = await buildBundle({ out: join(dir, 'good.tar'), layout: lay.dir, images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }] });
  other = await buildBundle({ out: join(dir, 'other.tar'), layout: lay.dir, images: [{ ref: 'docker.io/library/app:1.1', name: 'app' }] });
  ed = keypair('ed', ['-t', 'ed25519'], 'secret words');
  ec = keypair('ec', ['-t', 'ecdsa', '-b', '384']);
  stranger = keypair('stranger', ['-t', 'ed25519']);
  signers = join(dir, 'allowed_signers');
  writeFileSync(signers, `# who may sign bundles\nrelease@example.com namespaces="astrago-bundle" ${ed.pub}\nops@example.com,backup@example.com ${ec.pub}\n`);
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function sign(tar: string, key: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await runBinary(['bundle', 'sign', tar, '--key', key, ...(env.PASS ? ['--passphrase-env', 'PASS'] : [])], { env: { PATH: process.env.PATH, ...env } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Signed .* with (ssh-ed25519|ecdsa-sha2-nistp384) key SHA256:/);
}

async function verify(tar: string, extra: string[] = []) {
  return await runBinary(['bundle', 'verify', tar, '--allowed-signers', signers, ...extra]);
}

test('an Ed25519 signature (passphrase from the environment) is what ssh-keygen -Y verify accepts, and ours accepts it', async () => {
  const r0 = await runBinary(['bundle', 'sign', good.file, '--key', ed.key], { env: { PATH: process.env.PATH } });
  assert.equal(r0.code, 2, 'an encrypted key without its passphrase is refused');
  assert.match(r0.stderr, /encrypted: give its passphrase \(--passphrase-env VAR\)/);
  await sign(good.file, ed.key, { PASS: 'secret words' });
  const sig = readFileSync(`${good.file}.sig`, 'utf8');
  assert.match(sig, /^-----BEGIN SSH SIGNATURE-----\n/);
  assert.ok(!sig.includes('secret words'));
  const ok = sshKeygen(['-Y', 'verify', '-f', signers, '-I', 'release@example.com', '-n', 'astrago-bundle', '-s', `${good.file}.sig`], readFileSync(good.file));
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /Good "astrago-bundle" signature for release@example.com/);
  const v = await verify(good.file, ['--identity', 'release@example.com']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /signature\s+good signature by release@example.com \(SHA256:/);
  // ... and ssh-keygen refuses our signature over another file.
  const bad = sshKeygen(['-Y', 'verify', '-f', signers, '-I', 'release@example.com', '-n', 'astrago-bundle', '-s', `${good.file}.sig`], readFileSync(other.file));
  assert.notEqual(bad.code, 0);
});

test('an ECDSA signature made by ssh-keygen -Y sign is accepted; ssh-keygen verifies ours', async () => {
  const tar = join(dir, 'ec.tar');
  copyFileSync(good.file, tar);
  const made = sshKeygen(['-Y', 'sign', '-f', ec.key, '-n', 'astrago-bundle', tar]);
  assert.equal(made.code, 0, made.out);
  const v = await verify(tar, ['--identity', 'backup@example.com']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  await sign(tar, ec.key);
  const ok = sshKeygen(['-Y', 'verify', '-f', signers, '-I', 'ops@example.com', '-n', 'astrago-bundle', '-s', `${tar}.sig`], readFileSync(tar));
  assert.equal(ok.code, 0, ok.out);
  assert.equal((await verify(tar)).code, 0, 'any listed principal without --identity');
});

test('verify fails closed: unsigned, another key, another identity, another namespace, another file, tampered, revoked', async () => {
  const fresh = (name: string) => {
    const f = join(dir, name);
    copyFileSync(good.file, f);
    return f;
  };
  const unsigned = fresh('unsigned.tar');
  let r = await verify(unsigned);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /unsigned.tar.sig: unsigned: no signature file/);

  const strangers = fresh('stranger.tar');
  await sign(strangers, stranger.key);
  r = await verify(strangers);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /signed by ssh-ed25519 key SHA256:\S+, which \S+allowed_signers does not list/);

  const wrongId = await verify(good.file, ['--identity', 'ops@example.com']);
  assert.equal(wrongId.code, 1);
  assert.match(wrongId.stdout, /line 2 lists it for release@example.com, not for ops@example.com/);

  const ns = fresh('ns.tar');
  assert.equal(sshKeygen(['-Y', 'sign', '-f', ec.key, '-n', 'file', ns]).code, 0);
  r = await verify(ns);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /signature for namespace 'file', not astrago-bundle/);

  const swapped = fresh('swapped.tar');
  copyFileSync(`${good.file}.sig`, `${swapped}.sig`);
  writeFileSync(swapped, readFileSync(other.file));
  r = await verify(swapped);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /BAD signature by SHA256:\S+: the tar is not what was signed/);

  const tampered = fresh('tampered.tar');
  copyFileSync(`${good.file}.sig`, `${tampered}.sig`);
  const buf = readFileSync(tampered);
  buf[buf.length - 1]! ^= 1; // end-of-archive padding: only the signature (and sidecar) can tell
  writeFileSync(tampered, buf);
  r = await verify(tampered);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /BAD signature/);

  const revokedList = join(dir, 'revoked');
  writeFileSync(revokedList, `# retired\n${ed.pub}\n`);
  r = await verify(good.file, ['--revoked-keys', revokedList]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /signed by ssh-ed25519 key SHA256:\S+, which is revoked/);
  // ssh-keygen agrees, and so does an OpenSSH KRL.
  assert.notEqual(sshKeygen(['-Y', 'verify', '-f', signers, '-I', 'release@example.com', '-n', 'astrago-bundle', '-r', revokedList, '-s', `${good.file}.sig`], readFileSync(good.file)).code, 0);
  const krl = join(dir, 'revoked.krl');
  assert.equal(sshKeygen(['-k', '-f', krl, `${ed.key}.pub`]).code, 0);
  r = await verify(good.file, ['--revoked-keys', krl]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /which is revoked/);
  const krlOther = join(dir, 'other.krl');
  assert.equal(sshKeygen(['-k', '-f', krlOther, `${stranger.key}.pub`]).code, 0);
  assert.equal((await verify(good.file, ['--revoked-keys', krlOther])).code, 0, 'a KRL that revokes another key');
});

test('a bad allowed_signers line is an input error naming file and line (exit 2)', async () => {
  const bad = join(dir, 'bad_signers');
  writeFileSync(bad, `ok@example.com ${ed.pub}\nbroken ssh-ed25519 AAAAnotakey\n`);
  const r = await runBinary(['bundle', 'verify', good.file, '--allowed-signers', bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad_signers:2: field 'ssh-ed25519': a ssh-ed25519 public key in base64/);
});

test('a split bundle is signed as its whole tar: ssh-keygen verifies the joined bytes, verify reads the parts', async () => {
  const d = join(dir, 'split');
  const tar = join(d, 'good.tar');
  mkdirSync(d);
  copyFileSync(good.file, tar);
  const s = await runBinary(['bundle', 'split', tar, '--size', '32KiB']);
  assert.equal(s.code, 0, s.stderr);
  rmSync(tar);
  await sign(`${tar}.000`, ec.key);
  const ok = sshKeygen(['-Y', 'verify', '-f', signers, '-I', 'ops@example.com', '-n', 'astrago-bundle', '-s', `${tar}.sig`], readFileSync(good.file));
  assert.equal(ok.code, 0, ok.out);
  const v = await verify(`${tar}.000`, ['--identity', 'ops@example.com']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /signature\s+good signature by ops@example.com/);
});

test('install --allowed-signers: an unsigned bundle is refused with nothing pushed; the signed one installs', async () => {
  const reg = await startRegistry();
  try {
    const unsigned = join(dir, 'install-unsigned.tar');
    copyFileSync(good.file, unsigned);
    const args = (tar: string) => ['bundle', 'install', tar, '--registry', `${reg.host}/site`, '--flat', '--charts-dir', join(dir, 'charts'), '--allowed-signers', signers, '--identity', 'release@example.com'];
    const refused = await runBinary(args(unsigned), { env: { PATH: process.env.PATH, HOME: dir } });
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /verification failed .*nothing was pushed or written[\s\S]*install-unsigned\.tar\.sig: unsigned/);
    const repos = join(reg.dir, 'data', 'docker', 'registry', 'v2', 'repositories');
    assert.deepEqual(existsSync(repos) ? readdirSync(repos) : [], []);
    const ok = await runBinary(args(good.file), { env: { PATH: process.env.PATH, HOME: dir } });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Signature: good signature by release@example.com/);
  } finally {
    await reg.stop();
  }
});

test('bundle create over a signed tar: the old signature is removed when the bytes change, kept when they are the same', async () => {
  const work = join(dir, 'recreate');
  const chart = (version: string) => {
    mkdirSync(join(work, 'chart', 'templates'), { recursive: true });
    writeFileSync(join(work, 'chart', 'Chart.yaml'), `apiVersion: v2\nname: tiny\nversion: ${version}\n`);
    writeFileSync(join(work, 'chart', 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tiny}\n');
  };
  const spec = join(work, 'spec.yaml');
  mkdirSync(work, { recursive: true });
  writeFileSync(spec, 'apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: tiny, version: "1"}\ncharts:\n  - {name: tiny, path: ./chart}\n');
  const tar = join(work, 'tiny.tar');
  const create = async () => {
    const r = await runBinary(['bundle', 'create', '--spec', spec, '--output', tar, '--cache-dir', join(work, 'cache')], { env: { PATH: '/usr/bin:/bin', HOME: work } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return r;
  };
  chart('1.0.0');
  await create();
  await sign(tar, ec.key);
  const same = await create();
  assert.ok(existsSync(`${tar}.sig`), 'a byte-identical rebuild keeps its signature');
  assert.doesNotMatch(same.stdout + same.stderr, /removed .*\.sig/);
  assert.equal((await verify(tar, ['--identity', 'ops@example.com'])).code, 0);
  chart('1.0.1');
  const changed = await create();
  assert.ok(!existsSync(`${tar}.sig`), 'the signature of the replaced tar is gone');
  assert.match(changed.stdout + changed.stderr, /removed .*tiny\.tar\.sig: it signed the tar this run replaced/);
  const v = await verify(tar, ['--identity', 'ops@example.com']);
  assert.equal(v.code, 1, 'unsigned now, and verify says so rather than "bad signature"');
});
