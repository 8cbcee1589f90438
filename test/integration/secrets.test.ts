// Secrets planted where a site file points (env vars, password files, proxy
// URLs) and in the proxy environment never reach any report format, stdout,
// stderr or an --output file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/process.ts';
import { ensureBinary, runBinary } from '../support/run-binary.ts';
import { ALL_CHECKS, SITE_CHECKS } from '../../src/preflight/checks/index.ts';

const SECRETS = {
  registryEnv: 'reg-env-S3cr3t-1',
  registryFile: 'reg-file-S3cr3t-2',
  sshPasswordEnv: 'ssh-env-S3cr3t-3',
  sshPassphraseEnv: 'ssh-pass-S3cr3t-4',
  sshPasswordFile: 'ssh-file-S3cr3t-5',
  proxyEnv: 'proxy-env-S3cr3t-6',
  siteProxyUrl: 'proxy-url-S3cr3t-7',
  httpsProxyEnv: 'p@ss/w:rd-S3cr3t-8', // percent-encoded in the URL
  httpProxyEnv: 'http-env-S3cr3t-9',
  astragoEnv: 'astrago-named-S3cr3t-10',
};
/** Every form a planted secret could leak in. */
const FORBIDDEN = [...Object.values(SECRETS), encodeURIComponent(SECRETS.httpsProxyEnv), 'S3cr3t'];

let dir: string;
let env: NodeJS.ProcessEnv;
let siteFile: string;

before(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-secrets-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(join(dir, 'registry.pw'), `${SECRETS.registryFile}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'ssh.pw'), SECRETS.sshPasswordFile, { mode: 0o600 });
  // Nothing listens on these ports: every connection is refused at once, so
  // the run is quick and exercises the error paths, where secrets tend to leak.
  const [sshPort, proxyPort, registryPort] = [await freePort(), await freePort(), await freePort()];
  siteFile = join(dir, 'site.yaml');
  writeFileSync(
    siteFile,
    `apiVersion: astrago.io/v1
kind: Site
metadata: {name: secret-test}
nodes:
  - name: n1
    address: 127.0.0.1
    roles: [worker]
    ssh: {user: astrago, port: ${sshPort}, passwordEnv: AC_SSH_PW, passphraseEnv: AC_SSH_PP, passwordFile: ./ssh.pw, knownHostsFile: ./known_hosts}
network:
  proxy:
    http: "http://puser:${SECRETS.siteProxyUrl}@127.0.0.1:${proxyPort}"
    https: "http://puser:${SECRETS.siteProxyUrl}@127.0.0.1:${proxyPort}"
    noProxy: [localhost, .svc, .cluster.local]
    passwordEnv: AC_PROXY_PW
registry:
  url: https://127.0.0.1:${registryPort}
  username: robot
  passwordEnv: AC_REG_PW
  passwordFile: ./registry.pw
`,
  );
  env = {
    PATH: process.env.PATH,
    HOME: home,
    AC_REG_PW: SECRETS.registryEnv,
    AC_SSH_PW: SECRETS.sshPasswordEnv,
    AC_SSH_PP: SECRETS.sshPassphraseEnv,
    AC_PROXY_PW: SECRETS.proxyEnv,
    HTTPS_PROXY: `http://euser:${encodeURIComponent(SECRETS.httpsProxyEnv)}@127.0.0.1:${proxyPort}`,
    HTTP_PROXY: `http://euser:${SECRETS.httpProxyEnv}@127.0.0.1:${proxyPort}`,
    NO_PROXY: 'localhost',
    ASTRAGO_REGISTRY_PASSWORD: SECRETS.astragoEnv,
  };
});
after(() => rmSync(dir, { recursive: true, force: true }));

// Quick checks that touch the secrets: SSH (password, passphrase), proxy and registry, plus local
// ones; only those this build has (--only refuses a pattern that names no check).
// No dns.*: they query this machine's nameservers (for node names like n1): traffic off loopback.
const WANTED = ['os.', 'resources.cpu', 'ssh.', 'proxy.', 'registry.', 'network.'];
const ONLY = WANTED.filter((p) => [...ALL_CHECKS, ...SITE_CHECKS].some((c) => c.id === p || c.id.startsWith(p)));
const ARGS = ['preflight', '--local', '--only', ONLY.join(','), '--timeout', '3s', '--concurrency', '8'];

function assertNoSecret(where: string, text: string) {
  for (const s of FORBIDDEN) assert.ok(!text.includes(s), `${where} contains the secret '${s}':\n${text}`);
}

for (const format of ['tty', 'json', 'yaml', 'junit', 'markdown']) {
  test(`no secret in the ${format} report on stdout, nor on stderr`, async () => {
    const r = await runBinary([...ARGS, '--site', siteFile, '--format', format], { env, cwd: dir });
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    assert.ok(r.stdout.length > 0, 'a report was printed');
    assert.match(r.stdout, /n1/, 'the SSH node appears in the report');
    if (format === 'json') assert.ok(JSON.parse(r.stdout).results.length > 0);
    assertNoSecret('stdout', r.stdout);
    assertNoSecret('stderr', r.stderr);
  });

  test(`no secret in the ${format} report written with --output`, async () => {
    const out = join(dir, `report.${format}`);
    const r = await runBinary([...ARGS, '--site', siteFile, '--format', format, '--output', out], { env, cwd: dir });
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    const text = readFileSync(out, 'utf8');
    assert.ok(text.length > 0);
    assertNoSecret('output file', text);
    assertNoSecret('stdout', r.stdout);
    assertNoSecret('stderr', r.stderr);
  });
}

test('no secret in the error message of an invalid site file', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, readFileSync(siteFile, 'utf8').replace('roles: [worker]', 'roles: [nope]'));
  const r = await runBinary(['preflight', '--site', bad, '--format', 'json'], { env, cwd: dir });
  assert.equal(r.code, 2);
  assertNoSecret('stderr', r.stderr);
  assertNoSecret('stdout', r.stdout);
});

test('a secret that reaches a check result is masked in every format (hostname = registry password)', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root for a UTS namespace');
  // In a UTS namespace of its own the machine's hostname is the registry password, so the
  // report's host field and the os.hostname result carry it unless redaction works.
  const wrap = ['unshare', '--uts', '--', 'sh', '-c', 'hostname "$AC_REG_PW" && exec "$@"', 'sh'];
  for (const format of ['tty', 'json', 'yaml', 'junit', 'markdown']) {
    const r = await runBinary(['preflight', '--local', '--only', 'os.hostname,ssh.', '--timeout', '3s', '--site', siteFile, '--format', format], { env, cwd: dir, wrap });
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, /\*\*\*/, `${format}: the masked hostname shows as ***`);
    assertNoSecret(`${format} stdout`, r.stdout);
    assertNoSecret(`${format} stderr`, r.stderr);
  }
});
