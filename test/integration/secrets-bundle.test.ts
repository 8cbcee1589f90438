// Every secret the bundle side can be given is planted, and searched for in
// the stdout/stderr of create, verify, inspect and install (success and
// failure paths, with ASTRAGO_DEBUG stack traces too), in the bundle tar and
// its .sha256, in the cache and in the charts directory: none may appear, in
// any encoding (plain, URL-encoded, base64, base64 of user:password).
//
// Secrets: a source registry password by passwordEnv and by passwordFile (the
// spec's registries[]), a docker config auth token (DOCKER_CONFIG), proxy
// credentials in HTTPS_PROXY/HTTP_PROXY (used for a registry inside a network
// namespace, reached through tinyproxy with Basic proxy auth), and wrong
// passwords on the failure paths. The preflight side (site files, report
// formats, SSH passwords and key passphrases) is covered by secrets.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPki, type Pki } from '../support/pki.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createLayout, singlePlatformImage, pushImage, type Layout } from '../support/images.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { runCli, scratchDir, writeSpec, filesBelow, startTinyproxy, startNamespacedRegistry, type CliRun, type TestHttpProxy, type NamespacedRegistry } from '../support/hardening.ts';

const SECRETS = {
  srcPasswordEnv: 'srcEnvPw-S3cr3t-b1',
  nsPasswordFile: 'nsFilePw-S3cr3t-b2',
  dockerConfigPassword: 'dockerCfg-S3cr3t-b3',
  proxyPassword: 'proxyPw-S3cr3t-b4',
  wrongPassword: 'wrongPw-S3cr3t-b5',
  wrongProxyPassword: 'wrongProxy-S3cr3t-b6',
  wrongDockerToken: 'wrongDocker-S3cr3t-b7',
};
const USERS = { src: 'puller', ns: 'nsuser', target: 'pusher', proxy: 'proxyuser' };

/** Every form a secret could leak in. */
function forbiddenForms(): string[] {
  const out = new Set<string>(['S3cr3t']);
  const users = Object.values(USERS);
  for (const s of Object.values(SECRETS)) {
    out.add(s);
    out.add(encodeURIComponent(s));
    out.add(Buffer.from(s).toString('base64'));
    for (const u of users) out.add(Buffer.from(`${u}:${s}`).toString('base64'));
  }
  return [...out];
}

let dir: string;
let pki: Pki;
let layout: Layout;
let src: TestRegistry;
let target: TestRegistry;
let nsreg: NamespacedRegistry;
let tinyproxy: TestHttpProxy;
/** Everything the tool printed or wrote, labelled, for the final search. */
const outputs: Array<{ label: string; data: Buffer | string }> = [];

function record(label: string, r: CliRun): CliRun {
  outputs.push({ label: `${label} stdout`, data: r.stdout }, { label: `${label} stderr`, data: r.stderr });
  return r;
}

function dockerConfigDir(name: string, host: string, user: string, password: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
  return d;
}

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const proxy = `http://${USERS.proxy}:${encodeURIComponent(SECRETS.proxyPassword)}@127.0.0.1:${tinyproxy.port}`;
  return {
    PATH: process.env.PATH,
    HOME: dir,
    AC_SRC_PW: SECRETS.srcPasswordEnv,
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    NO_PROXY: 'localhost',
    DOCKER_CONFIG: dockerConfigDir('docker-ok', target.host, USERS.target, SECRETS.dockerConfigPassword),
    ...extra,
  };
}

function spec(name: string, srcPasswordEnv = 'AC_SRC_PW', nsPasswordFile = './ns.pw'): string {
  return writeSpec(
    dir,
    [`${src.host}/sec/local:1.0`, `${nsreg.host}/sec/remote:2.0`],
    {
      registries: [
        { host: src.host, caFile: pki.caCert, username: USERS.src, passwordEnv: srcPasswordEnv },
        { host: nsreg.host, caFile: pki.caCert, username: USERS.ns, passwordFile: nsPasswordFile },
      ],
    },
    name,
  );
}

before(async () => {
  dir = scratchDir('secrets-bundle');
  mkdirSync(join(dir, 'pki'));
  pki = createPki(join(dir, 'pki'));
  layout = createLayout();
  await singlePlatformImage(layout, 'local', { layerSizes: [20_000] });
  await singlePlatformImage(layout, 'remote', { layerSizes: [20_000] });
  src = await startRegistry({ tls: pki, auth: 'htpasswd', username: USERS.src, password: SECRETS.srcPasswordEnv });
  target = await startRegistry({ tls: pki, auth: 'htpasswd', username: USERS.target, password: SECRETS.dockerConfigPassword });
  const pid = process.pid;
  nsreg = await startNamespacedRegistry(pki, { subnet: `10.203.${250 + (pid % 6)}` /* 250-255: bundle-install-insecure uses 0-249 */, name: `ac${pid % 100000}sb`, username: USERS.ns, password: SECRETS.nsPasswordFile });
  tinyproxy = await startTinyproxy({ auth: { user: USERS.proxy, password: SECRETS.proxyPassword }, connectPorts: [5000] });
  await pushImage(layout, 'local', src, 'sec/local:1.0');
  await pushImage(layout, 'remote', { host: nsreg.host, username: nsreg.username, password: nsreg.password }, 'sec/remote:2.0');
  writeFileSync(join(dir, 'ns.pw'), `${SECRETS.nsPasswordFile}\n`, { mode: 0o600 });
});

after(async () => {
  await tinyproxy?.stop();
  await nsreg?.stop();
  await src?.stop();
  await target?.stop();
  layout?.cleanup();
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('create, verify, inspect and install with every secret planted: success paths', async () => {
  const out = join(dir, 'out', 'bundle.tar');
  const cache = join(dir, 'cache');
  const created = record('create', await runCli(['bundle', 'create', '--spec', spec('ok.yaml'), '--output', out, '--cache-dir', cache], { env: env(), cwd: dir }));
  assert.equal(created.code, 0, `create through the authenticating proxy and both registries:\n${created.stderr}`);
  outputs.push({ label: 'bundle tar', data: readFileSync(out) }, { label: 'bundle sidecar', data: readFileSync(`${out}.sha256`) });
  for (const f of filesBelow(cache)) outputs.push({ label: `cache ${f}`, data: readFileSync(f) });

  const verified = record('verify', await runCli(['bundle', 'verify', out], { env: env(), cwd: dir }));
  assert.equal(verified.code, 0, verified.stdout);
  for (const format of ['tty', 'json', 'yaml']) {
    const inspected = record(`inspect ${format}`, await runCli(['bundle', 'inspect', out, '--format', format], { env: env(), cwd: dir }));
    assert.equal(inspected.code, 0, inspected.stderr);
  }
  const charts = join(dir, 'charts');
  record('install dry-run', await runCli(['bundle', 'install', out, '--registry', `${target.host}/site`, '--ca-file', pki.caCert, '--dry-run'], { env: env(), cwd: dir }));
  const installed = record('install', await runCli(['bundle', 'install', out, '--registry', `${target.host}/site`, '--ca-file', pki.caCert, '--charts-dir', charts], { env: env(), cwd: dir }));
  assert.equal(installed.code, 0, `install with docker config credentials:\n${installed.stderr}`);
  for (const f of filesBelow(charts)) outputs.push({ label: `charts dir ${f}`, data: readFileSync(f) });
});

test('failure paths with wrong passwords, a wrong proxy password and a bad docker token', async () => {
  const debug = { ASTRAGO_DEBUG: '1' };
  // Wrong registry password (passwordEnv): the registry refuses.
  const wrongPw = record(
    'create wrong password',
    await runCli(['bundle', 'create', '--spec', spec('wrong.yaml', 'AC_WRONG_PW'), '--output', join(dir, 'w1', 'b.tar'), '--cache-dir', join(dir, 'cache-w1')], { env: env({ AC_WRONG_PW: SECRETS.wrongPassword, ...debug }), cwd: dir }),
  );
  assert.equal(wrongPw.code, 1, wrongPw.stderr);
  assert.match(wrongPw.stderr, /401|refused|unauthori[sz]ed|credentials/i, 'says the registry refused the credentials');
  // Wrong proxy password: tinyproxy answers 407 for the namespaced registry.
  const badProxy = `http://${USERS.proxy}:${SECRETS.wrongProxyPassword}@127.0.0.1:${tinyproxy.port}`;
  const wrongProxy = record(
    'create wrong proxy password',
    await runCli(['bundle', 'create', '--spec', spec('ok2.yaml'), '--output', join(dir, 'w2', 'b.tar'), '--cache-dir', join(dir, 'cache-w2')], { env: env({ HTTPS_PROXY: badProxy, HTTP_PROXY: badProxy, ...debug }), cwd: dir }),
  );
  assert.equal(wrongProxy.code, 1, wrongProxy.stderr);
  assert.match(wrongProxy.stderr, /407|proxy/i, 'the proxy refused the credentials (so the proxy path was really taken)');
  // A password file that is not there: bad input, exit 2 before any download, the file named.
  const noFile = record(
    'create missing password file',
    await runCli(['bundle', 'create', '--spec', spec('nofile.yaml', 'AC_SRC_PW', './missing.pw'), '--output', join(dir, 'w3', 'b.tar'), '--cache-dir', join(dir, 'cache-w3')], { env: env(debug), cwd: dir }),
  );
  assert.equal(noFile.code, 2, noFile.stderr);
  assert.match(noFile.stderr, /missing\.pw/);
  // Install with a docker config holding a wrong token.
  const out = join(dir, 'out', 'bundle.tar');
  const badDocker = dockerConfigDir('docker-bad', target.host, USERS.target, SECRETS.wrongDockerToken);
  const wrongToken = record(
    'install wrong docker token',
    await runCli(['bundle', 'install', out, '--registry', `${target.host}/site2`, '--ca-file', pki.caCert, '--charts-dir', join(dir, 'charts2')], { env: env({ DOCKER_CONFIG: badDocker, ...debug }), cwd: dir }),
  );
  assert.equal(wrongToken.code, 1, wrongToken.stderr);
  assert.match(wrongToken.stderr, /401|refused|unauthori[sz]ed/i, 'says the registry refused the credentials');
});

test('TLS is verified by default: without the CA file both registries are refused, and nothing falls back to plain HTTP', async () => {
  const noCa = writeSpec(
    dir,
    [`${src.host}/sec/local:1.0`, `${nsreg.host}/sec/remote:2.0`],
    { registries: [{ host: src.host, username: USERS.src, passwordEnv: 'AC_SRC_PW' }, { host: nsreg.host, username: USERS.ns, passwordFile: './ns.pw' }] },
    'noca.yaml',
  );
  const out = join(dir, 'noca', 'b.tar');
  const r = record('create without CA', await runCli(['bundle', 'create', '--spec', noCa, '--output', out, '--cache-dir', join(dir, 'cache-noca')], { env: env(), cwd: dir }));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /certificate|self[- ]signed|issuer|CA/i, `says the certificate is not trusted:\n${r.stderr}`);
  assert.ok(r.stderr.includes(nsreg.host) && r.stderr.includes(src.host), 'names both registries');
  assert.equal(existsSync(out), false, 'no bundle');
});

test('credentials go only to the registry itself: an upload Location on another origin gets no Authorization', async () => {
  // Proxy A is the registry the tool is given; its upload Locations point at proxy B (another
  // origin, the same registry behind it), as a registry handing uploads to a storage front would.
  const other = await startFaultProxy({ upstream: target.url, ca: readFileSync(pki.caCert) });
  const front = await startFaultProxy({ upstream: target.url, ca: readFileSync(pki.caCert), locationOrigin: other.url });
  try {
    const out = join(dir, 'out', 'bundle.tar');
    const docker = dockerConfigDir('docker-front', front.hostPort, USERS.target, SECRETS.dockerConfigPassword);
    const r = record('install cross-origin upload', await runCli(['bundle', 'install', out, '--registry', `${front.hostPort}/xo`, '--charts-dir', join(dir, 'charts-xo')], { env: env({ DOCKER_CONFIG: docker }), cwd: dir }));
    assert.ok(front.records.some((x) => x.authorization), 'the registry itself got the credentials');
    assert.ok(other.records.length > 0, `uploads went to the other origin (exit ${r.code}):\n${r.stderr}`);
    assert.deepEqual(other.records.filter((x) => x.authorization).map((x) => `${x.method} ${x.path}`), [], 'no request to the other origin carried Authorization');
  } finally {
    await front.close();
    await other.close();
  }
});

test('credentials go only to the registry itself: a blob redirect to another origin (a CDN) gets no Authorization', async () => {
  // The "CDN": an open registry holding the same blobs, behind its own proxy (another origin).
  const cdn = await startRegistry();
  const cdnFront = await startFaultProxy({ upstream: cdn.url });
  const front = await startFaultProxy({ upstream: src.url, ca: readFileSync(pki.caCert), rules: [{ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'redirect', to: cdnFront.url } }] });
  try {
    await pushImage(layout, 'local', cdn, 'sec/local:1.0');
    const redirectSpec = writeSpec(dir, [`${front.hostPort}/sec/local:1.0`], { registries: [{ host: front.hostPort, username: USERS.src, passwordEnv: 'AC_SRC_PW' }] }, 'redirect.yaml');
    const r = record('create through a CDN redirect', await runCli(['bundle', 'create', '--spec', redirectSpec, '--output', join(dir, 'redirect', 'b.tar'), '--cache-dir', join(dir, 'cache-redirect')], { env: env(), cwd: dir }));
    assert.equal(r.code, 0, `create follows the redirect:\n${r.stderr}`);
    assert.ok(front.records.some((x) => x.authorization), 'the registry itself got the credentials');
    assert.ok(cdnFront.records.some((x) => x.method === 'GET' && /\/blobs\//.test(x.path)), 'blobs came from the other origin');
    assert.deepEqual(cdnFront.records.filter((x) => x.authorization).map((x) => `${x.method} ${x.path}`), [], 'no request to the other origin carried Authorization');
  } finally {
    await front.close();
    await cdnFront.close();
    await cdn.stop();
  }
});

test('no command takes a secret on the command line', async () => {
  const dirOf = join(import.meta.dirname, '..', '..', 'src', 'cli', 'commands');
  let commands = 0;
  for (const f of readdirSync(dirOf).filter((x) => x.endsWith('.ts'))) {
    const mod = (await import(join(dirOf, f))) as Record<string, { name?: string; options?: Record<string, unknown>; usage?: string }>;
    for (const cmd of Object.values(mod)) {
      if (!cmd || typeof cmd !== 'object' || !cmd.options || !cmd.name) continue;
      commands++;
      for (const opt of Object.keys(cmd.options)) {
        // These name keys, files and environment variables, never hold a secret: --accept-new-host-keys,
        // --ca-file, --revoked-keys, --key (a key file), --*-env (the variable that holds a passphrase).
        assert.doesNotMatch(opt.replace(/^accept-new-host-keys$|^ca-file$|^revoked-keys$|^key$|^[a-z-]+-env$/, ''), /pass|secret|token|cred|auth|key/i, `${cmd.name} --${opt} looks like a secret on the command line`);
      }
    }
  }
  assert.ok(commands >= 7, `every command was looked at (${commands})`);
});

test('no secret appears anywhere the tool printed or wrote', (t) => {
  for (const o of outputs.filter((x) => /wrong|missing/.test(x.label) && x.label.endsWith('stderr'))) t.diagnostic(`${o.label}: ${String(o.data).trim().split('\n').filter((l) => !/^\s+at /.test(l)).slice(-3).join(' / ')}`);
  assert.ok(outputs.length > 15, 'the runs above produced the outputs searched here');
  const forms = forbiddenForms();
  for (const { label, data } of outputs) {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (const f of forms) assert.equal(buf.indexOf(f), -1, `${label} contains a secret (${JSON.stringify(f)})`);
  }
});
