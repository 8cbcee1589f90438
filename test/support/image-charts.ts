// A chart (with subcharts) that names its images the ways real charts do, for
// the image discovery tests; helm's own render of it is their oracle.
//   platform 1.2.0 (appVersion 2.0.0), values and templates:
//     image {registry, repository, tag: ""}  -> tag = appVersion, global.imageRegistry wins over registry
//     worker.image tag ""                     -> template writes v{{ .Chart.AppVersion }} (the walk can only guess 2.0.0)
//     operator.image "quay.io/acme/operator:1.4.0", operator.reloader passed in args and env
//     proxy.image with a digest (DaemonSet), janitor (CronJob), ClusterPolicy driver map (GPU Operator style)
//     and a dcgm map under enabled: false in the same resource
//     toolkit (enabled: false), a test hook Pod, Chart.yaml artifacthub.io/images
//   charts/metrics-0.3.0.tgz (nested archive, condition metrics.enabled, appVersion v0.8.0)
//   charts/cache/ (a directory, alias redis, condition redis.enabled: false; the parent sets its tag)
//   charts/extras/ (tags: [extras], tags.extras false)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { packageChart } from '../../src/bundle/charts/package.ts';

export const PROXY_DIGEST = 'sha256:' + 'ab'.repeat(32);

function write(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
}

const deployment = (kind: string, name: string, podSpec: string, extra = '') => `apiVersion: apps/v1
kind: ${kind}
metadata:
  name: {{ .Release.Name }}-${name}${extra}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${podSpec.replace(/^/gm, '      ')}
`;

/** Writes the chart directory under `root` and returns its path (subchart metrics packaged inside). */
export async function writePlatformChart(root: string): Promise<string> {
  const metricsSrc = join(root, 'src-metrics');
  write(metricsSrc, {
    'Chart.yaml': stringify({ apiVersion: 'v2', name: 'metrics', version: '0.3.0', appVersion: 'v0.8.0' }),
    'values.yaml': stringify({ global: { imageRegistry: '' }, image: { registry: 'quay.io', repository: 'acme/metrics', tag: '' } }),
    'templates/deploy.yaml': deployment('Deployment', 'metrics', 'containers:\n  - name: m\n    image: "{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"'),
  });
  const metrics = await packageChart(metricsSrc);

  const dir = join(root, 'platform');
  write(dir, {
    'Chart.yaml': stringify({
      apiVersion: 'v2',
      name: 'platform',
      version: '1.2.0',
      appVersion: '2.0.0',
      annotations: { 'artifacthub.io/images': stringify([{ name: 'core', image: 'docker.io/acme/core:2.0.0' }, { name: 'cli', image: 'docker.io/acme/cli:3.1.0' }]) },
      dependencies: [
        { name: 'metrics', version: '0.3.0', condition: 'metrics.enabled' },
        { name: 'cache', version: '1.0.0', alias: 'redis', condition: 'redis.enabled' },
        { name: 'extras', version: '0.1.0', tags: ['extras'] },
      ],
    }),
    'values.yaml': stringify({
      global: { imageRegistry: '' },
      image: { registry: 'docker.io', repository: 'acme/core', tag: '' },
      worker: { image: { repository: 'quay.io/acme/worker', tag: '' } },
      operator: { image: 'quay.io/acme/operator:1.4.0', reloader: 'quay.io/acme/reloader:0.9.1' },
      proxy: { image: { repository: 'docker.io/library/nginx', tag: '1.25.3', digest: PROXY_DIGEST } },
      janitor: { image: { repository: 'acme/janitor', tag: '5' } },
      driver: { repository: 'nvcr.io/nvidia', image: 'driver', version: '570.148.08' },
      toolkit: { enabled: false, image: { repository: 'quay.io/acme/toolkit', tag: '1.0' } },
      tests: { image: 'docker.io/library/busybox:1.36' },
      metrics: { enabled: true },
      redis: { enabled: false, image: { tag: '7.2.5' } },
      tags: { extras: false },
    }),
    'templates/_helpers.tpl': '{{- define "core.image" -}}{{ .Values.global.imageRegistry | default .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}\n',
    'templates/core.yaml': deployment('Deployment', 'core', 'initContainers:\n  - name: init\n    image: {{ include "core.image" . | quote }}\ncontainers:\n  - name: core\n    image: {{ include "core.image" . | quote }}'),
    'templates/worker.yaml': deployment('StatefulSet', 'worker', 'containers:\n  - name: w\n    image: "{{ .Values.worker.image.repository }}:{{ .Values.worker.image.tag | default (printf "v%s" .Chart.AppVersion) }}"'),
    'templates/operator.yaml': deployment(
      'Deployment',
      'operator',
      'containers:\n  - name: op\n    image: {{ .Values.operator.image }}\n    args:\n      - --log-level=info\n      - --reloader-image={{ .Values.operator.reloader }}\n    env:\n      - {name: SIDECAR, value: "quay.io/acme/sidecar:2.2"}\n      - {name: URL, value: "https://example.invalid/x:1"}',
    ),
    'templates/proxy.yaml': deployment('DaemonSet', 'proxy', 'containers:\n  - name: p\n    image: "{{ .Values.proxy.image.repository }}:{{ .Values.proxy.image.tag }}@{{ .Values.proxy.image.digest }}"'),
    'templates/janitor.yaml': `apiVersion: batch/v1
kind: CronJob
metadata: {name: {{ .Release.Name }}-janitor}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: j
              image: "{{ .Values.janitor.image.repository }}:{{ .Values.janitor.image.tag }}"
`,
    'templates/clusterpolicy.yaml': `apiVersion: nvidia.com/v1
kind: ClusterPolicy
metadata: {name: cluster-policy}
spec:
  driver:
    enabled: true
    repository: {{ .Values.driver.repository }}
    image: {{ .Values.driver.image }}
    version: {{ .Values.driver.version | quote }}
  dcgm:
    enabled: false
    repository: nvcr.io/nvidia/cloud-native
    image: dcgm
    version: 4.2.3-1-ubuntu22.04
`,
    'templates/toolkit.yaml': '{{- if .Values.toolkit.enabled }}\n' + deployment('Deployment', 'toolkit', 'containers:\n  - name: t\n    image: "{{ .Values.toolkit.image.repository }}:{{ .Values.toolkit.image.tag }}"') + '{{- end }}\n',
    'templates/tests/test-pod.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec:
  containers:
    - name: t
      image: {{ .Values.tests.image }}
`,
    'charts/cache/Chart.yaml': stringify({ apiVersion: 'v2', name: 'cache', version: '1.0.0', appVersion: '7.2.4' }),
    'charts/cache/values.yaml': stringify({ image: { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2.4' } }),
    'charts/cache/templates/sts.yaml': deployment('StatefulSet', 'cache', 'containers:\n  - name: r\n    image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"'),
    'charts/extras/Chart.yaml': stringify({ apiVersion: 'v2', name: 'extras', version: '0.1.0', appVersion: '0.1.0' }),
    'charts/extras/values.yaml': stringify({ image: { repository: 'quay.io/acme/extras', tag: '0.1.0' } }),
    'charts/extras/templates/d.yaml': deployment('Deployment', 'extras', 'containers:\n  - name: e\n    image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"'),
  });
  writeFileSync(join(dir, 'charts', metrics.fileName), metrics.data);
  return dir;
}

/** What `helm template` of the platform chart deploys with its own values (the test hook aside). */
export const PLATFORM_RENDERED = [
  'docker.io/acme/core:2.0.0',
  'docker.io/acme/janitor:5',
  `docker.io/library/nginx:1.25.3@${PROXY_DIGEST}`,
  'quay.io/acme/metrics:v0.8.0',
  'quay.io/acme/operator:1.4.0',
  'quay.io/acme/reloader:0.9.1',
  'quay.io/acme/sidecar:2.2',
  'quay.io/acme/worker:v2.0.0',
];
