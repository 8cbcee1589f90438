// registry.* checks run by the built binary against real Debian docker-registry
// servers on loopback: TLS from a test CA with htpasswd (Basic) auth, a Bearer
// token registry, a certificate for another name, a CA file that is not PEM,
// a closed port and a malformed URL. The password never shows in the output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runBinary as runCli } from '../support/run-binary.ts';
import { createPki, type Pki } from '../support/pki.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { freePort } from '../support/process.ts';
import type { Report } from '../../src/schema/report.ts';

let dir: string;
let pki: Pki;
let basic: TestRegistry;
let token: TestRegistry;
let wrongName: TestRegistry;
const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH, HOME: '/tmp', ...extra });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ac-h3-reg-'));
  pki = createPki();
  // A registry whose certificate names only a host we never use.
  const otherName: Pki = { ...pki, issue: (name) => pki.issue(name, { san: 'DNS:not-this-host.test' }) };
  [basic, token, wrongName] = await Promise.all([
    startRegistry({ tls: pki, auth: 'htpasswd', password: 'Reg1stry-Secret-9x' }),
    startRegistry({ auth: 'token', password: 'T0ken-Secret-7y' }),
    startRegistry({ tls: otherName }),
  ]);
});

after(async () => {
  await Promise.all([basic?.stop(), token?.stop(), wrongName?.stop()]);
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function siteFile(name: string, registry: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ apiVersion: 'astrago.io/v1', kind: 'Site', metadata: { name }, registry }));
  return file;
}

async function preflight(site: string, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; report: Report; raw: string; stderr: string }> {
  const r = await runCli(['--site', site, '--only', 'registry.', '--format', 'json', '--timeout', '5s'], { env: env(extraEnv) });
  assert.ok(r.stdout.trim().startsWith('{'), `no JSON report (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, raw: r.stdout, stderr: r.stderr };
}

const byId = (rep: Report) => Object.fromEntries(rep.results.map((r) => [r.id, r]));

test('TLS + htpasswd registry with the site CA and credentials: DNS, TCP, TLS, API and login pass', async () => {
  const site = siteFile('basic', { url: basic.url, caFile: 'ca.pem', username: basic.username, passwordEnv: 'REG_PW' });
  writeFileSync(join(dir, 'ca.pem'), (await import('node:fs')).readFileSync(pki.caCert)); // relative to the site file
  const { report, raw } = await preflight(site, { REG_PW: basic.password! });
  const r = byId(report);
  assert.equal(r['registry.dns']!.status, 'pass');
  assert.equal(r['registry.tcp']!.status, 'pass');
  assert.equal(r['registry.tls[trust]']!.status, 'pass', r['registry.tls[trust]']!.message);
  assert.equal(r['registry.tls[name]']!.status, 'pass');
  // The test CA issues 2-day certificates: under the 30-day warning, reported apart.
  assert.equal(r['registry.tls[expiry]']!.status, 'warn');
  assert.match(r['registry.tls[expiry]']!.message, /expires in [0-2] days/);
  assert.equal(r['registry.api']!.status, 'pass');
  assert.match(r['registry.api']!.message, /401 with a basic challenge/);
  assert.equal(r['registry.auth']!.status, 'pass', r['registry.auth']!.message);
  assert.match(r['registry.auth']!.message, /login as tester works \(basic/);
  assert.equal(r['registry.auth']!.checklist, 'REG-03');
  assert.ok(!raw.includes(basic.password!), 'the password must not appear in the report');
});

test('wrong password: login fails, the API still answers, and the password is not printed', async () => {
  const site = siteFile('badpw', { url: basic.url, caFile: pki.caCert, username: 'tester', passwordEnv: 'REG_PW' });
  const { code, report, raw, stderr } = await preflight(site, { REG_PW: 'Wrong-Passw0rd-123' });
  const r = byId(report);
  assert.equal(code, 1);
  assert.equal(r['registry.api']!.status, 'pass');
  assert.equal(r['registry.auth']!.status, 'fail');
  assert.match(r['registry.auth']!.message, /rejected: GET \/v2\/ answered 401/);
  assert.ok(!raw.includes('Wrong-Passw0rd-123') && !stderr.includes('Wrong-Passw0rd-123'));
});

test('no caFile: the test CA is not trusted, reported as trust (not as name or expiry), and the API step fails clearly', async () => {
  const { code, report } = await preflight(siteFile('noca', { url: basic.url, username: 'tester', passwordEnv: 'REG_PW' }), { REG_PW: basic.password! });
  const r = byId(report);
  assert.equal(code, 1);
  assert.equal(r['registry.tls[trust]']!.status, 'fail');
  assert.match(r['registry.tls[trust]']!.message, /not trusted: .*(SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY))/);
  assert.equal(r['registry.tls[name]']!.status, 'pass');
  assert.equal(r['registry.api']!.status, 'fail');
  assert.match(r['registry.api']!.message, /tls step/);
});

test('certificate for another name: name mismatch reported apart from a trusted chain', async () => {
  const { report } = await preflight(siteFile('name', { url: wrongName.url, caFile: pki.caCert }));
  const r = byId(report);
  assert.equal(r['registry.tls[trust]']!.status, 'pass');
  assert.equal(r['registry.tls[name]']!.status, 'fail');
  assert.match(r['registry.tls[name]']!.message, /does not name 127\.0\.0\.1.*not-this-host\.test/);
  assert.match(r['registry.tls[name]']!.remediation!, /subjectAltName/);
});

test('a CA file that is not PEM gives a clear fail on every TLS-using check, not a crash', async () => {
  const bad = join(dir, 'not-a-ca.pem');
  writeFileSync(bad, 'this is not a certificate\n');
  const { code, report } = await preflight(siteFile('notpem', { url: basic.url, caFile: bad }));
  const r = byId(report);
  assert.equal(code, 1);
  for (const id of ['registry.tls', 'registry.api', 'registry.auth']) {
    assert.equal(r[id]!.status, 'fail', id);
    assert.match(r[id]!.message, /not-a-ca\.pem holds no PEM certificate/);
  }
  assert.ok(!report.results.some((x) => x.status === 'error'), 'no check crashed');
});

test('Bearer-token registry: login fetches a token from the realm with the site credentials', async () => {
  const before = token.tokenRequests();
  const { report, raw } = await preflight(siteFile('token', { url: token.url, username: token.username, passwordFile: 'token-pw' }), {});
  // passwordFile did not exist yet: a clear credential error
  assert.match(byId(report)['registry.auth']!.message, /passwordFile token-pw cannot be read/);
  writeFileSync(join(dir, 'token-pw'), `${token.password}\n`);
  const again = await preflight(siteFile('token', { url: token.url, username: token.username, passwordFile: 'token-pw' }));
  const r = byId(again.report);
  assert.equal(r['registry.api']!.status, 'pass');
  assert.match(r['registry.api']!.message, /bearer challenge/);
  assert.equal(r['registry.auth']!.status, 'pass', r['registry.auth']!.message);
  assert.match(r['registry.auth']!.message, /bearer token/);
  assert.ok(token.tokenRequests() > before, 'the token issuer was asked');
  assert.equal(r['registry.tls']!.status, 'pass', 'plain HTTP on loopback');
  assert.ok(!raw.includes(token.password!) && !again.raw.includes(token.password!));
});

test('closed port and malformed URL: clear failures, exit 1, no crash', async () => {
  const port = await freePort();
  const closed = await preflight(siteFile('closed', { url: `https://127.0.0.1:${port}` }));
  const r = byId(closed.report);
  assert.equal(closed.code, 1);
  assert.equal(r['registry.tcp']!.status, 'fail');
  assert.match(r['registry.tcp']!.message, /refused/);
  const bad = await preflight(siteFile('malformed', { url: 'https://exa mple:notaport' }));
  assert.equal(bad.code, 1);
  for (const x of bad.report.results) {
    if (x.id.startsWith('registry.mirror')) {
      assert.equal(x.status, 'skip', 'no registry.mirrors listed: nothing to compare');
      continue;
    }
    assert.equal(x.status, 'fail', x.id);
    assert.match(x.message, /registry\.url 'https:\/\/exa mple:notaport' is not a valid address/);
  }
});

test('no credentials in the site file: the login stored by docker login in ~/.docker/config.json is used', async () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.docker'), { recursive: true });
  const site = siteFile('dockercfg', { url: basic.url, caFile: pki.caCert });
  const without = byId((await preflight(site, { HOME: home })).report)['registry.auth']!;
  assert.equal(without.status, 'fail');
  assert.match(without.message, /no registry\.username and ~\/\.docker\/config\.json has no login/);
  const auth = Buffer.from(`${basic.username}:${basic.password}`).toString('base64');
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [basic.host]: { auth } } }));
  const { report, raw } = await preflight(site, { HOME: home });
  const r = byId(report)['registry.auth']!;
  assert.equal(r.status, 'pass', r.message);
  assert.match(r.message, /login as tester works/);
  assert.ok(!raw.includes(basic.password!) && !raw.includes(auth));
});
