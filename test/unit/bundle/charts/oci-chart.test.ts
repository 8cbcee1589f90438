// oci:// chart references: registry, repository, and the tag a chart version becomes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ociChartReference } from '../../../../src/bundle/charts/oci-chart.ts';

test('oci:// chart references name their registry and turn + into _', () => {
  assert.deepEqual(ociChartReference('oci://ghcr.io/kubeflow/charts/mpi-operator', '0.4.0'), { registry: 'ghcr.io', repository: 'kubeflow/charts/mpi-operator', tag: '0.4.0' });
  assert.deepEqual(ociChartReference('oci://127.0.0.1:5000/charts/x/', '1.0.0+build.1'), { registry: '127.0.0.1:5000', repository: 'charts/x', tag: '1.0.0_build.1' });
  assert.throws(() => ociChartReference('oci://nohost', '1'), /oci:\/\/REGISTRY\/PATH/);
});
