// Plain HTTP only with --insecure (or for a loopback address): a plain-HTTP
// registry on a non-loopback address, inside a network namespace this test
// creates (namespace subnet 10.203.0.0/16, the bundle tests'), is refused without
// --insecure (nothing pushed) and used with it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNamespace, type Namespace } from '../support/netns.ts';
import { startProcess, waitForPort, type Server } from '../support/process.ts';
import { createLayout, singlePlatformImage } from '../support/images.ts';
import { buildBundle, type BuiltBundle } from '../support/bundle-fixture.ts';
import { runBinary } from '../support/run-binary.ts';

let dir: string;
let ns: Namespace;
let registry: Server | undefined;
let host: string;
let bundle: BuiltBundle;
let appDigest: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-insecure-'));
  ns = createNamespace(`ac${process.pid % 100000}i`, `10.203.${process.pid % 250}`);
  host = `${ns.address}:5000`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, ['version: 0.1', 'log: {level: error, accesslog: {disabled: true}}', 'storage:', `  filesystem: {rootdirectory: ${join(dir, 'data')}}`, 'http:', `  addr: ${host}`, ''].join('\n'));
  registry = startProcess([...ns.exec, 'docker-registry', 'serve', config]);
  await waitForPort(ns.address, 5000, 10_000, registry.child);
  const lay = createLayout(join(dir, 'layout'));
  appDigest = (await singlePlatformImage(lay, 'app', { layerSizes: [20_000] })).digest;
  bundle = await buildBundle({ out: join(dir, 'b.tar'), layout: lay.dir, images: [{ ref: 'docker.io/library/app:1.0', name: 'app' }] });
});

after(async () => {
  await registry?.stop();
  ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function catalog(): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/_catalog`);
  return ((await res.json()) as { repositories: string[] }).repositories;
}

test('a plain-HTTP registry off loopback is refused without --insecure, used with it', async () => {
  const env = { PATH: process.env.PATH, HOME: dir };
  const refused = await runBinary(['bundle', 'install', bundle.file, '--registry', `${host}/lab`, '--charts-dir', join(dir, 'c1')], { env });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /cannot reach registry 10\.203\.\d+\.2:5000 over HTTPS: it does not speak TLS \(plain HTTP is used only with --insecure or for a loopback address\)/);
  assert.deepEqual(await catalog(), []);

  const ok = await runBinary(['bundle', 'install', bundle.file, '--registry', `${host}/lab`, '--insecure', '--charts-dir', join(dir, 'c2')], { env });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual(await catalog(), ['lab/docker.io/library/app']);
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/lab/docker.io/library/app:1.0`]);
  assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, appDigest);
});
