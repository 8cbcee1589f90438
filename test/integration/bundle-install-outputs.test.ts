// What bundle install writes on the local disk, and when: the bundle's files
// (with their modes) into --files-dir (default: astrago-files beside the
// charts directory); the charts directory only once every push succeeded. A
// registry that does not answer, refuses the credentials or fails a push
// leaves a good charts directory as it was — and the first two are found
// before the bundle is verified.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPki, type Pki } from '../support/pki.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, pushImage, singlePlatformImage, type Layout } from '../support/images.ts';
import { makeChartDir, startStaticServer, writeHelmIndex, type StaticServer } from '../support/helm-repo.ts';
import { packageChart } from '../../src/bundle/charts/package.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/process.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let pki: Pki;
let lay: Layout;
let source: TestRegistry;
let target: TestRegistry;
let web: StaticServer;
let bundle: string;
const tool = Buffer.from(`#!/bin/sh\necho kubectl ${randomBytes(8).toString('hex')}\n`);

function dockerConfig(reg: TestRegistry, password = reg.password!): string {
  const d = mkdtempSync(join(dir, 'docker-'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${password}`).toString('base64') } } }));
  return d;
}

function install(args: string[], docker = dockerConfig(target)) {
  return runBinary(['bundle', 'install', bundle, ...args], { env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: docker }, timeoutMs: 120_000 });
}

/** Every file below `d` with its bytes' sha256 and mtime: any change shows. */
function snapshot(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(d, { recursive: true }) as string[]) {
    const st = statSync(join(d, name));
    out[name] = st.isDirectory() ? 'dir' : `${sha(readFileSync(join(d, name)))} ${st.mtimeMs}`;
  }
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-inst-out-'));
  pki = createPki(mkdtempSync(join(tmpdir(), 'ac-inst-out-pki-')));
  [source, target] = await Promise.all([startRegistry(), startRegistry({ tls: pki, auth: 'htpasswd' })]);
  lay = createLayout();
  await singlePlatformImage(lay, 'app', { layerSizes: [64 * 1024] });
  await pushImage(lay, 'app', source, 'team/app:1.0');
  mkdirSync(join(dir, 'web'));
  const chart = await packageChart(makeChartDir(join(dir, 'src'), { name: 'demo', version: '0.1.0' }));
  writeFileSync(join(dir, 'web', chart.fileName), chart.data);
  writeHelmIndex(join(dir, 'web'), [{ name: 'demo', version: '0.1.0', fileName: chart.fileName }]);
  writeFileSync(join(dir, 'web', 'kubectl'), tool);
  writeFileSync(join(dir, 'web', 'notes.txt'), 'plain\n');
  web = await startStaticServer(join(dir, 'web'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    [
      'apiVersion: astrago.io/v1',
      'kind: BundleSpec',
      'metadata: {name: outputs, version: 1.0.0}',
      'platforms: [linux/amd64]',
      `charts: [{name: demo, repo: "${web.url}", version: 0.1.0}]`,
      `images: [${source.host}/team/app:1.0]`,
      'files:',
      `  - {name: kubectl, url: "${web.url}/kubectl", sha256: ${sha(tool)}, mode: "0755"}`,
      `  - {name: notes.txt, url: "${web.url}/notes.txt", sha256: ${sha(Buffer.from('plain\n'))}}`,
      '',
    ].join('\n'),
  );
  bundle = join(dir, 'b.tar');
  const c = await runBinary(['bundle', 'create', '--spec', spec, '--output', bundle, '--cache-dir', join(dir, 'cache')], { env: { PATH: process.env.PATH, HOME: dir }, timeoutMs: 120_000 });
  assert.equal(c.code, 0, c.stdout + c.stderr);
});

after(async () => {
  await Promise.allSettled([source?.stop(), target?.stop(), web?.stop()]);
  lay?.cleanup();
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test("the bundle's files land beside the charts directory with their modes, or in --files-dir", async () => {
  const site = join(dir, 'site-a');
  const r = await install(['--registry', `${target.host}/a`, '--ca-file', pki.caCert, '--charts-dir', join(site, 'charts')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Verified: \d+ entries, 1 image, 1 chart, 2 files\./);
  const files = join(site, 'astrago-files');
  assert.deepEqual(readdirSync(files).sort(), ['kubectl', 'notes.txt']);
  assert.deepEqual(readFileSync(join(files, 'kubectl')), tool);
  assert.equal(statSync(join(files, 'kubectl')).mode & 0o777, 0o755);
  assert.equal(statSync(join(files, 'notes.txt')).mode & 0o777, 0o644);
  assert.match(r.stdout, new RegExp(`files\\s+${files.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(kubectl, notes\\.txt\\)`));

  const other = join(dir, 'tools');
  const r2 = await install(['--registry', `${target.host}/a`, '--ca-file', pki.caCert, '--charts-dir', join(site, 'charts'), '--files-dir', other]);
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.equal(statSync(join(other, 'kubectl')).mode & 0o777, 0o755);
  assert.deepEqual(readdirSync(other).sort(), ['kubectl', 'notes.txt'], 'no temp file left');
});

test('a registry that is down or refuses the credentials: found before verifying, a good charts directory untouched', async () => {
  const charts = join(dir, 'site-b', 'charts');
  const good = await install(['--registry', `${target.host}/b`, '--ca-file', pki.caCert, '--charts-dir', charts]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  const before = snapshot(charts);
  const filesBefore = snapshot(join(dir, 'site-b', 'astrago-files'));

  const down = `127.0.0.1:${await freePort()}`;
  const r1 = await install(['--registry', down, '--charts-dir', charts]);
  assert.equal(r1.code, 1, r1.stdout + r1.stderr);
  assert.match(r1.stderr, new RegExp(`cannot reach registry ${down}: .*ECONNREFUSED`));
  assert.doesNotMatch(r1.stdout, /Verifying/, 'the registry is checked first');

  const r2 = await install(['--registry', `${target.host}/b`, '--ca-file', pki.caCert, '--charts-dir', charts], dockerConfig(target, 'wrong-password'));
  assert.equal(r2.code, 1, r2.stdout + r2.stderr);
  assert.match(r2.stderr, new RegExp(`registry ${target.host} refused the credentials of ${target.username} \\(HTTP 401\\)`));
  assert.doesNotMatch(r2.stdout, /Verifying/);
  assert.ok(!(r2.stdout + r2.stderr).includes('wrong-password'));

  const r3 = await install(['--registry', `${target.host}/b`, '--ca-file', pki.caCert, '--charts-dir', charts], join(dir, 'no-docker-config'));
  assert.equal(r3.code, 1, r3.stdout + r3.stderr);
  assert.match(r3.stderr, new RegExp(`registry ${target.host} needs a login and no credentials were found: give them with --site site\\.yaml .*docker login ${target.host}`));
  assert.doesNotMatch(r3.stderr, /spec registries/, 'install reads no spec');

  assert.deepEqual(snapshot(charts), before, 'registry-values.yaml and the charts stay as they were');
  assert.deepEqual(snapshot(join(dir, 'site-b', 'astrago-files')), filesBefore);
});

test('a push that fails after the verification leaves the charts and files directories as they were', async () => {
  const charts = join(dir, 'site-c', 'charts');
  const good = await install(['--registry', `${target.host}/c`, '--ca-file', pki.caCert, '--charts-dir', charts]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  const before = snapshot(charts);
  const filesBefore = snapshot(join(dir, 'site-c', 'astrago-files'));
  // The same registry behind a proxy that refuses every manifest (a final 400, not retried).
  const cert = pki.issue('proxy');
  const proxy = await startFaultProxy({ upstream: target.url, ca: readFileSync(pki.caCert), tls: { cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, rules: [{ method: 'PUT', path: /\/manifests\//, fault: { kind: 'status', status: 400 } }] });
  try {
    const r = await install(['--registry', `${proxy.hostPort}/other`, '--ca-file', pki.caCert, '--charts-dir', charts], dockerConfig({ ...target, host: proxy.hostPort }));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /Verified:/);
    assert.match(r.stderr, /push(es)? failed/);
  } finally {
    await proxy.close();
  }
  assert.deepEqual(snapshot(charts), before, 'still the registry-values.yaml of the install that succeeded');
  assert.deepEqual(snapshot(join(dir, 'site-c', 'astrago-files')), filesBefore);
  assert.deepEqual(readdirSync(charts).filter((n) => n.includes('.tmp-')), []);
});

test('bundle inspect prints file modes in octal (the spec too); its JSON keeps the number', async () => {
  const tty = await runBinary(['bundle', 'inspect', bundle]);
  assert.equal(tty.code, 0, tty.stderr);
  assert.match(tty.stdout, /kubectl\s+files\/kubectl\s+0755\s/);
  assert.match(tty.stdout, /notes\.txt\s+files\/notes\.txt\s+0644\s/);
  assert.match(tty.stdout, /mode: "0755"/);
  // 0o755 printed in decimal would read 493; only as a whole word, since digests and ports are random.
  assert.doesNotMatch(tty.stdout, /(^|[\s:])493(\s|$)/m);
  assert.match(tty.stdout, /Totals: 1 chart, 1 image, 2 files; /);
  const json = JSON.parse((await runBinary(['bundle', 'inspect', bundle, '--format', 'json'])).stdout);
  assert.equal(json.files.find((f: { name: string }) => f.name === 'kubectl').mode, 0o755);
});

test('Ctrl-C during the push: a message, exit 130, no charts or files directory', async () => {
  const cert = pki.issue('proxy-int');
  // Uploads stall at the proxy, so the signal lands mid-push.
  const proxy = await startFaultProxy({ upstream: target.url, ca: readFileSync(pki.caCert), tls: { cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, rules: [{ path: /\/blobs\/uploads\//, method: 'PUT', fault: { kind: 'stall' } }] });
  const site = join(dir, 'site-int');
  try {
    const child = spawn(ensureBinary(), ['bundle', 'install', bundle, '--registry', `${proxy.hostPort}/int`, '--ca-file', pki.caCert, '--charts-dir', join(site, 'charts')], {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dockerConfig({ ...target, host: proxy.hostPort }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    for (let i = 0; i < 600 && !proxy.records.some((r) => r.fault === 'stall'); i++) await sleep(50);
    assert.ok(proxy.records.some((r) => r.fault === 'stall'), 'an upload was in flight');
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /SIGINT: bundle install stopped; what was pushed stays in the registry and the next run skips it/);
    assert.ok(!existsSync(site), 'neither directory was written');
  } finally {
    await proxy.close();
  }
});
