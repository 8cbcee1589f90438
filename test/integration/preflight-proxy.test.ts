// proxy.* and registry.* through a real tinyproxy, inside a network namespace
// the test creates. The registry (docker-registry, TLS for registry.test,
// htpasswd) listens on the namespace's loopback, and an nftables output rule
// rejects every connection to it except those of the proxy's user (nobody):
// a check that goes direct is refused, one that goes through the proxy passes.
// /etc/netns/NS/hosts names registry.test; /etc/netns/NS/systemd holds the
// containerd drop-in proxy.containerd reads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { createNamespace, nsExec, type Namespace } from '../support/netns.ts';
import { freePort, startProcess, type Server } from '../support/process.ts';
import { runBinary as runCli } from '../support/run-binary.ts';
import { ROOT } from '../support/run-binary.ts';
import type { Report } from '../../src/schema/report.ts';

const NS = `ac${process.pid}p`;
const etcDir = `/etc/netns/${NS}`;
const DROPIN = join(etcDir, 'systemd/system/containerd.service.d');
const PROXY_PW = 'Pr0xy-Pass-55x';
const REG_PW = 'Reg-Pass-77z';
let ns: Namespace;
let dir: string;
let registry: Server;
let proxy: Server;
let authProxy: Server;
let R = 0;
let P = 0;
let PA = 0;
let caFile = '';

function tinyproxyConf(port: number, extra: string[]): string {
  const file = join(dir, `tinyproxy-${port}.conf`);
  writeFileSync(file, ['User nobody', 'Group nogroup', `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', 'LogLevel Error', 'MaxClients 20', `ConnectPort ${R}`, ...extra].join('\n') + '\n');
  return file;
}

async function waitInNs(port: number, child: Server): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.child.exitCode !== null) throw new Error(`server exited: ${child.output()}`);
    if (nsExec(ns, ['ss', '-Hltn', `sport = :${port}`]).trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port} in ${NS}: ${child.output()}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-h3-px-'));
  chmodSync(dir, 0o755);
  ns = createNamespace(NS, `10.201.${(process.pid % 60) * 4 + 4}`);
  mkdirSync(DROPIN, { recursive: true });
  writeFileSync(join(etcDir, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 registry.test\n');
  writeFileSync(join(etcDir, 'resolv.conf'), 'nameserver 127.0.0.1\n'); // nothing answers: no query leaves
  [R, P, PA] = [await freePort(), await freePort(), await freePort()];
  // The registry, started by the shared test helper in a process inside the namespace.
  const script = `
    import { createPki } from ${JSON.stringify(join(ROOT, 'test/support/pki.ts'))};
    import { startRegistry } from ${JSON.stringify(join(ROOT, 'test/support/registry.ts'))};
    const pki = createPki();
    const named = { ...pki, issue: (n) => pki.issue(n, { san: 'DNS:registry.test' }) };
    const reg = await startRegistry({ tls: named, auth: 'htpasswd', password: ${JSON.stringify(REG_PW)} });
    console.log(JSON.stringify({ port: reg.port, caFile: pki.caCert }));
    process.on('SIGTERM', async () => { await reg.stop(); pki.cleanup(); process.exit(0); });`;
  registry = startProcess([...ns.exec, process.execPath, '--input-type=module', '-e', script]);
  const [line] = (await once(registry.child.stdout!, 'data')) as [Buffer];
  const info = JSON.parse(line.toString()) as { port: number; caFile: string };
  R = info.port;
  caFile = info.caFile;
  // Only the proxy's user may connect to the registry.
  nsExec(ns, ['nft', 'add', 'table', 'inet', 'acpx']);
  nsExec(ns, ['nft', 'add', 'chain', 'inet', 'acpx', 'out', '{ type filter hook output priority 0; policy accept; }']);
  nsExec(ns, ['nft', 'add', 'rule', 'inet', 'acpx', 'out', 'tcp', 'dport', String(R), 'meta', 'skuid', '!=', '65534', 'reject', 'with', 'tcp', 'reset']);
  proxy = startProcess([...ns.exec, 'tinyproxy', '-d', '-c', tinyproxyConf(P, [])]);
  authProxy = startProcess([...ns.exec, 'tinyproxy', '-d', '-c', tinyproxyConf(PA, [`BasicAuth alice ${PROXY_PW}`])]);
  await Promise.all([waitInNs(P, proxy), waitInNs(PA, authProxy)]);
});

after(async () => {
  await Promise.all([proxy?.stop(), authProxy?.stop(), registry?.stop()]);
  ns?.destroy();
  rmSync(etcDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

const REQUIRED = ['localhost', '127.0.0.1', '.svc', '.cluster.local'];

function site(name: string, proxyCfg: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'astrago.io/v1',
      kind: 'Site',
      metadata: { name },
      network: { proxy: proxyCfg },
      registry: { url: `https://registry.test:${R}`, caFile, username: 'tester', passwordEnv: 'REG_PW' },
    }),
  );
  chmodSync(file, 0o644);
  return file;
}

async function preflight(file: string, env: Record<string, string> = {}) {
  const r = await runCli(['--site', file, '--only', 'proxy.,registry.', '--format', 'json', '--timeout', '5s'], { wrap: ns.exec, env: { PATH: process.env.PATH!, HOME: '/tmp', REG_PW, ...env } });
  assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
  const me = hostname();
  const results = (JSON.parse(r.stdout) as Report).results.filter((x) => x.node === me);
  return { code: r.code, raw: r.stdout + r.stderr, r: Object.fromEntries(results.map((x) => [x.id, x])) };
}

test('through the proxy: CONNECT reaches the registry; TLS, API and login pass; env and containerd drop-in agree', async () => {
  const url = `http://127.0.0.1:${P}`;
  writeFileSync(join(DROPIN, 'http-proxy.conf'), `[Service]\nEnvironment="HTTP_PROXY=${url}" "HTTPS_PROXY=${url}"\nEnvironment="NO_PROXY=${REQUIRED.join(',')}"\n`);
  const { r } = await preflight(site('via', { http: url, https: url, noProxy: REQUIRED }), { HTTP_PROXY: url, HTTPS_PROXY: url, NO_PROXY: REQUIRED.join(',') });
  assert.equal(r['proxy.env']!.status, 'pass', r['proxy.env']!.message);
  assert.equal(r['proxy.reach']!.status, 'pass', r['proxy.reach']!.message);
  assert.match(r['proxy.reach']!.message, new RegExp(`CONNECT reaches the registry registry\\.test:${R}`));
  assert.equal(r['proxy.containerd']!.status, 'pass', r['proxy.containerd']!.message);
  assert.equal(r['registry.tcp']!.status, 'pass');
  assert.match(r['registry.tcp']!.message, /through proxy http:\/\/127\.0\.0\.1/);
  assert.equal(r['registry.tls[trust]']!.status, 'pass', r['registry.tls[trust]']!.message);
  assert.equal(r['registry.tls[name]']!.status, 'pass');
  assert.equal(r['registry.api']!.status, 'pass', r['registry.api']!.message);
  assert.equal(r['registry.auth']!.status, 'pass', r['registry.auth']!.message);
  // The internal registry is not in NO_PROXY: the rule says so and gives the corrected value.
  assert.equal(r['proxy.noproxy']!.status, 'fail');
  assert.match(r['proxy.noproxy']!.message, /registry\.test \(internal registry\)/);
  assert.match(r['proxy.noproxy']!.remediation!, /localhost,127\.0\.0\.1,\.svc,\.cluster\.local,registry\.test/);
});

test('NO_PROXY covers the registry: the checks go direct (refused here), not through the proxy', async () => {
  const url = `http://127.0.0.1:${P}`;
  writeFileSync(join(DROPIN, 'http-proxy.conf'), `[Service]\nEnvironment="HTTPS_PROXY=http://old-proxy:3128"\n`);
  const { code, r } = await preflight(site('direct', { http: url, https: url, noProxy: [...REQUIRED, 'registry.test'] }));
  assert.equal(code, 1);
  assert.equal(r['proxy.noproxy']!.status, 'pass', r['proxy.noproxy']!.message);
  assert.match(r['proxy.reach']!.message, /reached directly: NO_PROXY entry 'registry\.test'/);
  assert.equal(r['registry.tcp']!.status, 'fail');
  assert.match(r['registry.tcp']!.message, /direct \(NO_PROXY entry 'registry\.test'.*refused/);
  assert.equal(r['proxy.env']!.status, 'warn', 'the tool ran without proxy variables');
  assert.equal(r['proxy.containerd']!.status, 'fail');
  assert.match(r['proxy.containerd']!.message, /HTTPS_PROXY http:\/\/old-proxy:3128 vs site/);
  assert.match(r['proxy.containerd']!.remediation!, /systemctl daemon-reload && systemctl restart containerd/);
});

test('a proxy that wants a password: 407 without it, login through it with passwordEnv; the password never shows', async () => {
  rmSync(join(DROPIN, 'http-proxy.conf'), { force: true });
  const url = `http://alice@127.0.0.1:${PA}`;
  const file = site('auth', { http: url, https: url, noProxy: REQUIRED, passwordEnv: 'PROXY_PW' });
  const without = await preflight(file);
  assert.equal(without.r['registry.tcp']!.status, 'fail');
  assert.match(without.r['registry.tcp']!.message, /40[17]/); // tinyproxy answers 401, RFC 7235 says 407
  assert.match(without.r['registry.tcp']!.remediation!, /passwordEnv/);
  assert.equal(without.r['proxy.containerd']!.status, 'warn', 'no drop-in while the site uses a proxy');
  const withPw = await preflight(file, { PROXY_PW });
  assert.equal(withPw.r['proxy.reach']!.status, 'pass', withPw.r['proxy.reach']!.message);
  assert.equal(withPw.r['registry.auth']!.status, 'pass', withPw.r['registry.auth']!.message);
  for (const out of [without.raw, withPw.raw]) {
    assert.ok(!out.includes(PROXY_PW) && !out.includes(REG_PW), 'no secret in the output');
  }
});
