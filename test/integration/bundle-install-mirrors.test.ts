// Images of two registries with one path (`team/app:v1` in two loopback
// registries, as docker.io/nvidia/cuda and nvcr.io/nvidia/cuda are in life):
// `--flat` refuses them before anything is pushed, naming both; the default
// layout installs both, and a real containerd, its sources stopped (SIGSTOP),
// pulls each original reference through the written hosts.toml from the
// site registry (TLS, its CA beside the hosts.toml) and gets the right image.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createPki, type Pki } from '../support/pki.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, pushImage, singlePlatformImage, type Layout } from '../support/images.ts';
import { buildBundle, type BuiltBundle } from '../support/bundle-fixture.ts';
import { startContainerd, type TestContainerd } from '../support/containerd.ts';
import { runBinary } from '../support/run-binary.ts';

let dir: string;
let pki: Pki;
let lay: Layout;
let a: TestRegistry;
let b: TestRegistry;
let site: TestRegistry;
let bundle: BuiltBundle;
/** image a only: nothing to collide with --flat */
let single: BuiltBundle;
let ctd: TestContainerd | undefined;
const digests: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-mirrors-'));
  pki = createPki(mkdtempSync(join(tmpdir(), 'ac-mirrors-pki-')));
  lay = createLayout(join(dir, 'layout'));
  digests.a = (await singlePlatformImage(lay, 'a', { layerSizes: [40_000] })).digest;
  digests.b = (await singlePlatformImage(lay, 'b', { layerSizes: [50_000] })).digest;
  [a, b, site] = await Promise.all([startRegistry(), startRegistry(), startRegistry({ tls: pki })]);
  await pushImage(lay, 'a', a, 'team/app:v1');
  await pushImage(lay, 'b', b, 'team/app:v1');
  bundle = await buildBundle({
    out: join(dir, 'two.tar'),
    layout: lay.dir,
    images: [
      { ref: `${a.host}/team/app:v1`, name: 'a' },
      { ref: `${b.host}/team/app:v1`, name: 'b' },
    ],
  });
  single = await buildBundle({ out: join(dir, 'one.tar'), layout: lay.dir, images: [{ ref: `${a.host}/team/app:v1`, name: 'a' }] });
});

after(async () => {
  for (const r of [a, b]) if (r) process.kill(r.pid, 'SIGCONT');
  await ctd?.stop();
  for (const r of [a, b, site]) await r?.stop();
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function catalog(): Promise<string[]> {
  const res = await request(`${site.url}/v2/_catalog?n=1000`, { dispatcher: new Agent({ connect: { ca: readFileSync(site.caFile!) } }) });
  return ((await res.body.json()) as { repositories: string[] }).repositories;
}

const env = () => ({ PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: join(dir, 'no-docker') });

test('--flat refuses two images on one target before anything is pushed, naming both', async () => {
  const chartsDir = join(dir, 'charts-flat');
  for (const extra of [[], ['--dry-run']]) {
    const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${site.host}/astrago`, '--flat', '--ca-file', site.caFile!, '--charts-dir', chartsDir, ...extra], { env: env() });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`image ${a.host}/team/app:v1 and image ${b.host}/team/app:v1 would both land on ${site.host}/astrago/team/app:v1`), r.stderr);
    assert.ok(r.stderr.includes(digests.a!) && r.stderr.includes(digests.b!), 'both digests are named');
    assert.match(r.stderr, /nothing was pushed or written/);
  }
  assert.deepEqual(await catalog(), []);
  assert.equal(existsSync(chartsDir), false);
});

test('by source registry both land; containerd pulls each original through hosts.toml with the sources stopped', async () => {
  const chartsDir = join(dir, 'charts');
  const r = await runBinary(['bundle', 'install', bundle.file, '--registry', `${site.host}/astrago`, '--ca-file', site.caFile!, '--charts-dir', chartsDir], { env: env() });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ca = `astrago/${a.host.replace(':', '_')}/team/app`;
  const cb = `astrago/${b.host.replace(':', '_')}/team/app`;
  assert.deepEqual((await catalog()).sort(), [ca, cb].sort());
  assert.ok(r.stdout.includes(`${a.host}/team/app:v1 -> ${site.host}/${ca}:v1`), r.stdout);
  assert.ok(r.stdout.includes(`${b.host}/team/app:v1 -> ${site.host}/${cb}:v1`), r.stdout);
  const listed = [a.host, b.host].sort().map((h) => `containerd/certs.d/${h}/hosts.toml`).join(', ');
  assert.ok(r.stdout.includes(`  mirrors    ${listed}, registries.yaml (copy containerd/certs.d/* to /etc/containerd/certs.d/`), r.stdout);
  const certs = join(chartsDir, 'containerd', 'certs.d');
  const hosts = readFileSync(join(certs, a.host, 'hosts.toml'), 'utf8');
  assert.ok(hosts.includes(`[host."https://${site.host}/v2/astrago/${a.host.replace(':', '_')}"]`), hosts);

  ctd = await startContainerd();
  process.kill(a.pid, 'SIGSTOP');
  process.kill(b.pid, 'SIGSTOP');
  try {
    // Control: without the mirror files the pull goes to the stopped source and gets nothing.
    const none = mkdtempSync(join(dir, 'no-hosts-'));
    await assert.rejects(ctd.pull(`${a.host}/team/app:v1`, none, 3000));
    for (const [src, digest] of [[a, digests.a!], [b, digests.b!]] as const) {
      const ref = `${src.host}/team/app:v1`;
      await ctd.pull(ref, certs, 60_000).catch((err: Error) => assert.fail(`ctr pull ${ref}: ${err.message}\n${ctd!.output()}`));
      assert.equal(await ctd.imageDigest(ref), digest, `${ref} is the image of its own registry`);
    }
  } finally {
    process.kill(a.pid, 'SIGCONT');
    process.kill(b.pid, 'SIGCONT');
  }
});

test('--flat mirrors: every source registry onto the prefix itself; containerd pulls through them', async () => {
  const chartsDir = join(dir, 'charts-flat-ok');
  const r = await runBinary(['bundle', 'install', single.file, '--registry', `${site.host}/flat`, '--flat', '--ca-file', site.caFile!, '--charts-dir', chartsDir], { env: env() });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const certs = join(chartsDir, 'containerd', 'certs.d');
  assert.ok(readFileSync(join(certs, a.host, 'hosts.toml'), 'utf8').includes(`[host."https://${site.host}/v2/flat"]`));
  ctd ??= await startContainerd();
  process.kill(a.pid, 'SIGSTOP');
  try {
    const ref = `${a.host}/team/app:v1`;
    // (a namespace of its own: containerd fetches every blob again there)
    await ctd.pull(ref, certs, 60_000, 'flat').catch((err: Error) => assert.fail(`ctr pull ${ref}: ${err.message}\n${ctd!.output()}`));
    assert.equal(await ctd.imageDigest(ref, 'flat'), digests.a);
  } finally {
    process.kill(a.pid, 'SIGCONT');
  }
});
