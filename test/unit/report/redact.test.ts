import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectSecrets, MASK, redactReport, redactText, redactUrl } from '../../../src/report/redact.ts';
import { siteSchema } from '../../../src/schema/site.ts';
import { sampleReport } from '../../support/report-fixture.ts';

test('redactUrl masks the password of a URL userinfo and nothing else', () => {
  assert.equal(redactUrl('http://user:s3cret@proxy.acme:3128'), 'http://user:***@proxy.acme:3128');
  assert.equal(redactUrl('https://u:p%40ss@host/path?q=1'), 'https://u:***@host/path?q=1');
  assert.equal(redactUrl('http://u:pa@ss@host:1/x@y'), 'http://u:***@host:1/x@y'); // last '@' of the authority
  assert.equal(redactUrl('http://user@host'), 'http://user@host');
  assert.equal(redactUrl('http://host:3128'), 'http://host:3128');
  assert.equal(redactUrl('not a url'), 'not a url');
});

test('redactText masks known secrets and any URL password in free text', () => {
  assert.equal(redactText('login failed for hunter22 at x', ['hunter22']), `login failed for ${MASK} at x`);
  assert.equal(redactText('proxy http://bob:unknownpw@192.0.2.1:3128 refused', []), 'proxy http://bob:***@192.0.2.1:3128 refused');
  assert.equal(redactText('port 3128 ok, see http://host:3128/x', []), 'port 3128 ok, see http://host:3128/x');
  // Short secrets are ignored rather than mangling ordinary text.
  assert.equal(redactText('abc abc', ['abc']), 'abc abc');
});

test('collectSecrets reads every secret the site names, from env, files and proxy URLs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-redact-'));
  try {
    writeFileSync(join(dir, 'reg.pw'), 'file-registry-pw\n');
    writeFileSync(join(dir, 'ssh.pw'), 'file-ssh-pw');
    const site = siteSchema.parse({
      apiVersion: 'astrago.io/v1',
      kind: 'Site',
      metadata: { name: 's' },
      nodes: [
        { name: 'a', address: '127.0.0.1', roles: ['worker'], ssh: { user: 'root', passwordEnv: 'SSH_PW', passphraseEnv: 'KEY_PP' } },
        { name: 'b', address: '127.0.0.2', roles: ['worker'], ssh: { passwordFile: 'ssh.pw' } },
      ],
      network: { proxy: { http: 'http://puser:site-proxy-pw@127.0.0.1:3128', passwordEnv: 'PROXY_PW' } },
      registry: { url: 'https://127.0.0.1:5000', username: 'robot', passwordEnv: 'REG_PW', passwordFile: 'reg.pw' },
    });
    const env = {
      SSH_PW: 'env-ssh-pw',
      KEY_PP: 'env-key-passphrase',
      PROXY_PW: 'env-proxy-pw',
      REG_PW: 'env-registry-pw',
      HTTPS_PROXY: 'http://x:env%2Fhttps-proxy-pw@127.0.0.1:1',
      ASTRAGO_TOKEN_SECRET: 'astrago-named-secret',
      UNRELATED: 'not-a-secret',
    };
    const secrets = collectSecrets(site, env, dir);
    for (const s of ['env-ssh-pw', 'env-key-passphrase', 'env-proxy-pw', 'env-registry-pw', 'file-registry-pw', 'file-ssh-pw', 'site-proxy-pw', 'env/https-proxy-pw', 'env%2Fhttps-proxy-pw', 'astrago-named-secret']) {
      assert.ok(secrets.includes(s), `missing ${s}`);
    }
    // Basic-auth form of the registry credentials.
    assert.ok(secrets.includes(Buffer.from('robot:env-registry-pw').toString('base64')));
    assert.ok(!secrets.includes('not-a-secret'));
    // Longest first, so a secret containing another is masked whole.
    assert.deepEqual(secrets, [...secrets].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('collectSecrets without a site still covers proxy URLs in the environment; missing files are ignored', () => {
  assert.deepEqual(collectSecrets(undefined, { http_proxy: 'http://u:lower-pw@h:1', HTTP_PROXY: 'http://h:1', HOME: '/nonexistent' }, '/'), [Buffer.from('u:lower-pw').toString('base64'), 'lower-pw']);
  const site = siteSchema.parse({ apiVersion: 'astrago.io/v1', kind: 'Site', metadata: { name: 's' }, registry: { url: 'x', passwordFile: '/nonexistent/pw', passwordEnv: 'UNSET' } });
  assert.deepEqual(collectSecrets(site, { HOME: '/nonexistent' }, '/'), []);
});

test('redactReport replaces secrets in every string: message, remediation, facts (nested, keys too)', () => {
  const report = sampleReport();
  const secret = 'Sup3r-Secret!';
  report.results[0]!.message = `auth failed with ${secret}`;
  report.results[1]!.remediation = `run: docker login -p ${secret}`;
  report.results[2]!.facts = { nested: { list: [`x${secret}y`, 1, null, true] }, [secret]: 'key' };
  report.site = `site-${secret}`;
  const before = JSON.stringify(report);
  const out = redactReport(report, [secret]);
  const text = JSON.stringify(out);
  assert.ok(!text.includes(secret));
  assert.equal(out.results[0]!.message, 'auth failed with ***');
  assert.deepEqual(out.results[2]!.facts, { nested: { list: ['x***y', 1, null, true] }, '***': 'key' });
  assert.equal(out.summary.pass, report.summary.pass);
  assert.equal(JSON.stringify(report), before, 'the input is not modified');
});

test('collectSecrets includes docker login credentials from the docker config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-redact-docker-'));
  try {
    const auth = Buffer.from('robot:docker-cfg-pw').toString('base64');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'harbor.local:5000': { auth }, other: { identitytoken: 'idtoken-value' } } }));
    const secrets = collectSecrets(undefined, { DOCKER_CONFIG: dir }, '/');
    for (const s of [auth, 'docker-cfg-pw', 'idtoken-value']) assert.ok(secrets.includes(s), s);
    // No config file: nothing, no error.
    assert.deepEqual(collectSecrets(undefined, { DOCKER_CONFIG: join(dir, 'none') }, '/'), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
