// Image targets of bundle install: the source host kept as a path component (by-registry),
// the flat layout, and the collision refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRegistryTarget } from '../../../../src/bundle/install/plan.ts';
import { hostComponent, imageRepository, refuseCollisions, registryMirrorPath, targetCollisions, type PlannedTarget } from '../../../../src/bundle/install/targets.ts';
import { UsageError } from '../../../../src/errors.ts';
import { parseReference } from '../../../../src/oci/reference.ts';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

test('hostComponent: lower-cased, :PORT as _PORT, IPv6 written out; always a valid path component', () => {
  assert.equal(hostComponent('docker.io'), 'docker.io');
  assert.equal(hostComponent('Harbor.Lab:5000'), 'harbor.lab_5000');
  assert.equal(hostComponent('127.0.0.1:5001'), '127.0.0.1_5001');
  assert.equal(hostComponent('localhost'), 'localhost');
  assert.equal(hostComponent('[::1]:5000'), '0__0__0__0__0__0__0__1_5000');
  assert.equal(hostComponent('[fd00:0:0::A]'), 'fd00__0__0__0__0__0__0__a');
  assert.equal(hostComponent('[::ffff:10.0.0.1]:80'), '0__0__0__0__0__ffff__a00__1_80');
  const hosts = ['docker.io', 'nvcr.io', 'quay.io', 'registry.k8s.io', 'harbor.lab:5000', 'harbor.lab:5001', 'harbor.lab', '[::1]:5000', '[::1]', '[::2]:5000', 'a-b.c', 'ab.c'];
  const seen = new Map<string, string>();
  for (const h of hosts) {
    const c = hostComponent(h);
    assert.match(c, COMPONENT, `${h} -> ${c}`);
    assert.equal(seen.get(c), undefined, `${h} and ${seen.get(c)} share ${c}`);
    seen.set(c, h);
  }
  // Equal hosts written differently share one component.
  assert.equal(hostComponent('[0:0::1]:5000'), hostComponent('[::1]:5000'));
});

test('by-registry targets keep the source host under the prefix; flat drops it', () => {
  const t = parseRegistryTarget('harbor.site/astrago');
  const nginx = parseReference('nginx:1.25');
  assert.equal(imageRepository(t, nginx.registry, nginx.repository, 'by-registry'), 'astrago/docker.io/library/nginx');
  assert.equal(imageRepository(t, 'nvcr.io', 'nvidia/cuda', 'by-registry'), 'astrago/nvcr.io/nvidia/cuda');
  assert.equal(imageRepository(t, '127.0.0.1:5001', 'team/app', 'by-registry'), 'astrago/127.0.0.1_5001/team/app');
  assert.equal(imageRepository(parseRegistryTarget('reg:5000'), 'quay.io', 'team/x', 'by-registry'), 'quay.io/team/x');
  assert.equal(imageRepository(t, 'nvcr.io', 'nvidia/cuda', 'flat'), 'astrago/nvidia/cuda');
  assert.equal(imageRepository(parseRegistryTarget('reg:5000'), 'nvcr.io', 'nvidia/cuda', 'flat'), 'nvidia/cuda');
  assert.equal(registryMirrorPath(t, 'docker.io', 'by-registry'), 'harbor.site/astrago/docker.io');
  assert.equal(registryMirrorPath(t, 'docker.io', 'flat'), 'harbor.site/astrago');
});

test('collisions: same target with different content, named both; the same bytes twice are not one', () => {
  const t = parseRegistryTarget('harbor.site/astrago');
  const mk = (src: string, digest: string, layout: 'flat' | 'by-registry'): PlannedTarget => {
    const r = parseReference(src);
    return { what: `image ${src}`, repository: imageRepository(t, r.registry, r.repository, layout), reference: r.tag ?? r.digest!, digest };
  };
  const flat = [mk('docker.io/nvidia/cuda:12', 'sha256:aa', 'flat'), mk('nvcr.io/nvidia/cuda:12', 'sha256:bb', 'flat'), mk('quay.io/nvidia/cuda:12', 'sha256:aa', 'flat'), mk('nvcr.io/nvidia/cuda:11', 'sha256:cc', 'flat')];
  const pairs = targetCollisions(flat);
  assert.deepEqual(pairs.map(([a, b]) => [a.what, b.what]), [['image docker.io/nvidia/cuda:12', 'image nvcr.io/nvidia/cuda:12']]);
  assert.throws(
    () => refuseCollisions(t, flat, 'flat'),
    (e: unknown) => e instanceof UsageError && /image docker\.io\/nvidia\/cuda:12 and image nvcr\.io\/nvidia\/cuda:12 would both land on harbor\.site\/astrago\/nvidia\/cuda:12/.test(e.message) && /--flat/.test(e.message) && /nothing was pushed/.test(e.message),
  );
  const byRegistry = [mk('docker.io/nvidia/cuda:12', 'sha256:aa', 'by-registry'), mk('nvcr.io/nvidia/cuda:12', 'sha256:bb', 'by-registry')];
  assert.deepEqual(targetCollisions(byRegistry), []);
  refuseCollisions(t, byRegistry, 'by-registry');
  // An image on a chart's repository (flat: docker.io/charts/demo) is refused too.
  const chart: PlannedTarget = { what: 'chart demo 1.0', repository: 'astrago/charts/demo', reference: '1.0', digest: 'sha256:dd' };
  assert.equal(targetCollisions([chart, mk('docker.io/charts/demo:1.0', 'sha256:ee', 'flat')]).length, 1);
});
