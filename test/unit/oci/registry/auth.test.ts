import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerConfigCredentials, findCredentials, parseChallenge, repositoryScope } from '../../../../src/oci/registry/auth.ts';
import { tempDir } from '../../../support/temp.ts';

test('parses Bearer and Basic challenges', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="test-registry"'), { scheme: 'basic', params: { realm: 'test-registry' } });
  assert.deepEqual(parseChallenge('Bearer realm=https://x/t, service=svc'), { scheme: 'bearer', params: { realm: 'https://x/t', service: 'svc' } });
  assert.equal(parseChallenge('Bearer realm="a\\"b"')?.params.realm, 'a"b');
  assert.equal(repositoryScope('team/app', 'pull'), 'repository:team/app:pull');
});

test('docker config: base64 auth, username/password, Docker Hub aliases', () => {
  const cfg = JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pw').toString('base64') },
      'harbor.acme:5443': { username: 'robot$x', password: 'pw2' },
      'https://quay.io': { auth: Buffer.from('q:p').toString('base64') },
    },
  });
  assert.deepEqual(dockerConfigCredentials(cfg, 'docker.io'), { username: 'hubuser', password: 'hub:pw' });
  assert.deepEqual(dockerConfigCredentials(cfg, 'harbor.acme:5443'), { username: 'robot$x', password: 'pw2' });
  assert.deepEqual(dockerConfigCredentials(cfg, 'quay.io'), { username: 'q', password: 'p' });
  assert.equal(dockerConfigCredentials(cfg, 'ghcr.io'), undefined);
  assert.throws(() => dockerConfigCredentials('{', 'x', '/c.json'), /invalid JSON/);
});

test('spec registries[] win over the docker config; DOCKER_CONFIG is honoured', () => {
  const dir = tempDir('ac-auth-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'reg.local': { username: 'fromconfig', password: 'c' } } }));
  writeFileSync(join(dir, 'pw'), 'filepw\n');
  const env = { DOCKER_CONFIG: dir, REG_PW: 'envpw' };
  assert.deepEqual(findCredentials('reg.local', undefined, env), { username: 'fromconfig', password: 'c' });
  assert.deepEqual(findCredentials('reg.local', { host: 'reg.local', username: 'u', passwordEnv: 'REG_PW' }, env), { username: 'u', password: 'envpw' });
  assert.deepEqual(findCredentials('reg.local', { host: 'reg.local', username: 'u', passwordFile: join(dir, 'pw') }, env), { username: 'u', password: 'filepw' });
  assert.throws(() => findCredentials('reg.local', { host: 'reg.local', username: 'u', passwordEnv: 'NOPE' }, env), /NOPE is not set/);
  assert.equal(findCredentials('other', undefined, env), undefined);
});
