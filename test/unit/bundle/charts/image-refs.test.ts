// Images in rendered manifests: every kind that holds containers, CR image fields, argument
// references; what is not an image stays out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagesInManifests, sourceChart } from '../../../../src/bundle/charts/image-refs.ts';
import { referencesInText } from '../../../../src/bundle/charts/image-shapes.ts';

const manifests = `---
# Source: top/charts/sub/templates/pod.yaml
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: a, image: "busybox:1.36"}]
  ephemeralContainers: [{name: e, image: "quay.io/x/debug:1"}]
---
# Source: top/templates/list.yaml
apiVersion: v1
kind: List
items:
  - {apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: {template: {spec: {initContainers: [{name: i, image: "ghcr.io/x/init@sha256:${'a'.repeat(64)}"}], containers: [{name: c, image: "ghcr.io/x/job:2", command: ["run", "--image", "ghcr.io/x/tool:3", "https://ghcr.io/x/not:1"]}]}}}}
  - {apiVersion: v1, kind: ReplicationController, metadata: {name: rc}, spec: {template: {spec: {containers: [{name: c, image: "registry.k8s.io/pause:3.9"}]}}}}
---
# Source: top/templates/cr.yaml
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: p}
spec:
  image: quay.io/prometheus/prometheus:v2.42.0
  thanos: {image: {registry: quay.io, repository: thanos/thanos, tag: v0.30.2}}
  notAnImage: {image: latest}
---
# Source: top/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {image: "quay.io/x/in-config:1"}
---
# Source: top/crds/crd.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: x}
spec: {versions: [{schema: {openAPIV3Schema: {properties: {image: {type: string, default: "quay.io/x/default:1"}}}}}]}
---
# Source: top/templates/tests/t.yaml
apiVersion: v1
kind: Pod
metadata: {name: t, annotations: {helm.sh/hook: "test-success"}}
spec: {containers: [{name: t, image: "docker.io/library/alpine:3"}]}
`;

test('rendered manifests: containers of every kind, List items, CR fields; ConfigMaps, CRDs and URLs are not images', () => {
  const found = imagesInManifests(manifests, 'top');
  const by = Object.fromEntries(found.map((f) => [f.ref, f]));
  assert.deepEqual(Object.keys(by).sort(), [
    'docker.io/library/alpine:3',
    'docker.io/library/busybox:1.36',
    `ghcr.io/x/init@sha256:${'a'.repeat(64)}`,
    'ghcr.io/x/job:2',
    'ghcr.io/x/tool:3',
    'quay.io/prometheus/prometheus:v2.42.0',
    'quay.io/thanos/thanos:v0.30.2',
    'quay.io/x/debug:1',
    'registry.k8s.io/pause:3.9',
  ]);
  assert.equal(by['quay.io/x/debug:1']!.field, 'spec.ephemeralContainers[0].image');
  assert.equal(by['quay.io/x/debug:1']!.chart, 'top/sub');
  assert.equal(by['ghcr.io/x/tool:3']!.field, 'spec.template.spec.containers[0].command[2]');
  assert.equal(by['registry.k8s.io/pause:3.9']!.resource, 'ReplicationController/rc');
  assert.equal(by['quay.io/thanos/thanos:v0.30.2']!.field, 'spec.thanos.image');
  assert.equal(by['docker.io/library/alpine:3']!.test, true, 'helm.sh/hook: test-success is a test hook');
  assert.equal(by['ghcr.io/x/job:2']!.test, false);
});

test('source paths and references in text', () => {
  assert.deepEqual(sourceChart('a/charts/b/charts/c/templates/x.yaml', 'a'), { chart: 'a/b/c', template: 'templates/x.yaml' });
  assert.deepEqual(referencesInText('--reloader=quay.io/p/r:v1 --x=localhost:5000/a/b@sha256:' + 'b'.repeat(64)), ['quay.io/p/r:v1', `localhost:5000/a/b@sha256:${'b'.repeat(64)}`]);
  assert.deepEqual(referencesInText('--url=https://quay.io/x:1 --name=busybox:1 --path=/usr/lib/x:1 plain words'), []);
});
