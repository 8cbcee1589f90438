// Helm charts stored in OCI registries (`helm push`): the manifest for
// REF:VERSION has a Helm config and one chart-content layer, the .tgz itself.
import { OperationError } from '../../errors.ts';
import { parseReference, type ImageReference } from '../../oci/reference.ts';

export const HELM_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

/** oci://REGISTRY/PATH/NAME + VERSION -> the registry reference (Helm turns '+' into '_' in tags). */
export function ociChartReference(oci: string, version: string): ImageReference {
  const path = oci.replace(/^oci:\/\//, '').replace(/\/+$/, '');
  const slash = path.indexOf('/');
  if (slash <= 0) throw new OperationError(`chart ${oci}: expected oci://REGISTRY/PATH`);
  // oci:// always names its registry explicitly (no docker.io default); the
  // rest is checked by the one reference parser.
  const registry = path.slice(0, slash);
  const tag = version.replace(/\+/g, '_');
  const checked = parseReference(`${registry.includes('.') || registry.includes(':') || registry === 'localhost' ? registry : 'registry.invalid'}/${path.slice(slash + 1)}:${tag}`);
  return { registry, repository: checked.repository, tag };
}

/** The chart layer descriptor of a Helm OCI manifest. */
export function chartLayer(manifestBytes: Buffer, what: string): { digest: string; size: number } {
  let m: { config?: { mediaType?: string }; layers?: Array<{ mediaType?: string; digest?: string; size?: number }> };
  try {
    m = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    throw new OperationError(`${what}: manifest is not JSON`);
  }
  if (m.config?.mediaType !== HELM_CONFIG_MEDIA_TYPE) {
    throw new OperationError(`${what}: not a Helm chart (config media type ${m.config?.mediaType ?? 'missing'}, expected ${HELM_CONFIG_MEDIA_TYPE})`);
  }
  const layer = (m.layers ?? []).find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
  if (!layer?.digest || typeof layer.size !== 'number') throw new OperationError(`${what}: no ${HELM_CHART_MEDIA_TYPE} layer`);
  return { digest: layer.digest, size: layer.size };
}
