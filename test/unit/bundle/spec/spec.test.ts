import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundleSpec, parseImageList } from '../../../../src/bundle/spec/spec.ts';
import { InputErrors } from '../../../../src/errors.ts';
import { makeChartDir } from '../../../support/helm-repo.ts';
import { tempDir } from '../../../support/temp.ts';

function workspace(spec: string, lists: Record<string, string> = {}): string {
  const dir = tempDir('ac-spec-');
  mkdirSync(join(dir, 'bundle-spec'));
  mkdirSync(join(dir, 'imagelists'));
  for (const [n, t] of Object.entries(lists)) writeFileSync(join(dir, 'imagelists', n), t);
  makeChartDir(join(dir, 'charts'), { name: 'astrago', version: '1.0.0' });
  writeFileSync(join(dir, 'bundle-spec', 'b.yaml'), spec);
  return join(dir, 'bundle-spec', 'b.yaml');
}

const HEAD = 'apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: t, version: 1.0.0}\n';

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputErrors, `expected InputErrors, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    return err.errors.map((e) => e.message);
  }
  assert.fail('expected an error');
}

test('image lists resolve relative to the spec, with comments, deduplicated with inline images', () => {
  const file = workspace(`${HEAD}images: [nginx:1.25]\nimageLists: [../imagelists/a.txt]\ncharts:\n  - {name: astrago, path: ../charts/astrago}\n`, {
    'a.txt': '# platform images\ndocker.io/library/nginx:1.25\n\nquay.io/prometheus/prometheus:v2.42.0   # trailing comment\n',
  });
  const s = loadBundleSpec(file);
  assert.deepEqual(s.images.map((i) => i.name), ['docker.io/library/nginx:1.25', 'quay.io/prometheus/prometheus:v2.42.0']);
  assert.match(s.images[1]!.origin, /a\.txt:4$/);
  assert.deepEqual(s.spec.platforms, ['linux/amd64']);
  assert.match(s.charts[0]!.dir!, /charts\/astrago$/);
});

test('a bad reference in an image list names the list file and line', () => {
  const file = workspace(`${HEAD}imageLists: [../imagelists/bad.txt]\n`, { 'bad.txt': 'nginx:1\n# x\nNot/Valid::x\n' });
  const errs = errorsOf(() => loadBundleSpec(file));
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /imagelists\/bad\.txt:3: field 'image': invalid image reference 'Not\/Valid::x'/);
});

test('schema errors name file, line and field', () => {
  const file = workspace(`${HEAD}platforms: [linux/amd64]\ncharts:\n  - {name: harbor, repo: https://helm.goharbor.io}\n  - {name: x, repo: https://a, oci: oci://b/c, version: "1"}
  - {name: y, repo: https://a, version: 1.10}\nimages:\n  - nginx:1\n  - "UPPER:1"\nfiles:\n  - {name: helm, url: "https://x/helm.tgz", sha256: abc}\nbogus: 1\n`);
  const errs = errorsOf(() => loadBundleSpec(file));
  const text = errs.join('\n');
  assert.match(text, /b\.yaml:6: field 'charts\[0\]\.version': required field is missing/);
  assert.match(text, /b\.yaml:7: field 'charts\[1\]': expected exactly one of repo, oci, path \(got repo, oci\)/);
  assert.match(text, /b\.yaml:8: field 'charts\[2\]\.version': expected string/);
  assert.match(text, /b\.yaml:11: field 'images\[1\]': invalid image reference 'UPPER:1'/);
  assert.match(text, /b\.yaml:13: field 'files\[0\]\.sha256': expected 64 lowercase hex/);
  assert.match(text, /b\.yaml:14: field 'bogus': unknown field 'bogus'/);
});

test('missing image list and missing local chart point at the spec line', () => {
  const file = workspace(`${HEAD}imageLists:\n  - ../imagelists/none.txt\ncharts:\n  - {name: gone, path: ../charts/gone}\n`);
  const errs = errorsOf(() => loadBundleSpec(file));
  assert.match(errs[0]!, /b\.yaml:5: field 'imageLists\[0\]': image list .*none\.txt: file not found/);
  assert.match(errs[1]!, /b\.yaml:7: field 'charts\[0\]\.path': expected a chart directory with a Chart\.yaml/);
});

test('parseImageList keeps line numbers', () => {
  const r = parseImageList('\n\n# c\nalpine:3\n', 'l.txt');
  assert.equal(r.images[0]!.origin, 'l.txt:4');
  assert.equal(r.errors.length, 0);
});

test('registry secrets are checked (set, readable) without being read into messages', () => {
  const file = workspace(`${HEAD}registries:\n  - {host: "reg.local:5000", username: u, passwordEnv: REG_PW}\n  - {host: other.io, username: u, passwordFile: ./nope.pw}\n  - {host: third.io, passwordEnv: X}\n`);
  const errs = errorsOf(() => loadBundleSpec(file, { X: 'secret-value' }));
  assert.match(errs[0]!, /b\.yaml:5: field 'registries\[0\]\.passwordEnv': environment variable REG_PW is not set/);
  assert.match(errs[1]!, /b\.yaml:6: field 'registries\[1\]\.passwordFile': cannot read password file .*nope\.pw \(ENOENT\)/);
  assert.match(errs[2]!, /b\.yaml:7: field 'registries\[2\]\.username': required field is missing/);
  assert.ok(!errs.join('\n').includes('secret-value'));
  assert.equal(errorsOf(() => loadBundleSpec(file)).length, 1, 'without env only the shape is checked');
});

test('files[].mode: octal as 0o755 or "0755"; a plain 755 (YAML reads it as decimal) is refused with the octal spelling', () => {
  const sha = 'a'.repeat(64);
  const file = (mode: string) => workspace(`${HEAD}files:\n  - {name: helm, url: "https://x/helm", sha256: ${sha}, mode: ${mode}}\n`);
  for (const [written, mode] of [['0o755', 0o755], ['"0755"', 0o755], ["'755'", 0o755], ['"0o640"', 0o640], ['493', 0o755], ['0o644', 0o644]] as const) {
    assert.equal(loadBundleSpec(file(written)).spec.files[0]!.mode, mode, written);
  }
  for (const written of ['755', '0755', '644']) {
    const errs = errorsOf(() => loadBundleSpec(file(written)));
    const digits = written.replace(/^0/, '');
    assert.match(errs.join('\n'), new RegExp(`b\\.yaml:5: field 'files\\[0\\]\\.mode': mode ${digits}: write it in octal: 0o${digits} or "0${digits}"`), written);
  }
  assert.match(errorsOf(() => loadBundleSpec(file('"rwxr-xr-x"'))).join('\n'), /field 'files\[0\]\.mode': expected octal digits like "0755"/);
  assert.match(errorsOf(() => loadBundleSpec(file('4096'))).join('\n'), /mode 4096: expected a mode from 0 to 0o777/);
});
