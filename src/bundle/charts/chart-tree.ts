// A chart with its subcharts, as Helm loads it: the archive's NAME/Chart.yaml
// and NAME/values.yaml (and a v1 chart's requirements.yaml), and each subchart under NAME/charts/ (a directory, or a
// nested .tgz as `helm dependency build` leaves it). Templates are not kept:
// rendering is helm's job; this serves the values walk and the dependency rules.
import { gunzipSync } from 'node:zlib';
import { parse as parseYamlText } from 'yaml';
import { OperationError } from '../../errors.ts';
import { parseChartYaml, type ChartMetadata } from './chart-archive.ts';

export interface ChartDependency {
  name: string;
  version?: string;
  repository?: string;
  /** comma-separated values paths (relative to the parent's values); the first that is a boolean decides */
  condition?: string;
  tags?: string[];
  alias?: string;
}

export interface ChartTree {
  metadata: ChartMetadata;
  /** values.yaml, parsed ({} when absent) */
  values: Record<string, unknown>;
  dependencies: ChartDependency[];
  /** subcharts found under charts/, by their Chart.yaml name */
  subcharts: ChartTree[];
  /** Chart.yaml annotation artifacthub.io/images (or Bitnami's `images`), parsed */
  annotatedImages: Array<{ name?: string; image: string }>;
}

/** Reads a chart archive (.tgz bytes) into a tree. `what` names it in errors. */
export async function loadChartTree(tgz: Buffer, what: string): Promise<ChartTree> {
  const files = await untarChartFiles(tgz, what);
  const roots = new Set([...files.keys()].map((p) => p.split('/')[0]!));
  const root = [...roots].find((r) => files.has(`${r}/Chart.yaml`));
  if (!root) throw new OperationError(`${what}: no Chart.yaml in the chart archive`);
  return build(files, `${root}/`, what);
}

async function build(files: Map<string, Buffer>, prefix: string, what: string): Promise<ChartTree> {
  const metadata = parseChartYaml(files.get(`${prefix}Chart.yaml`)!.toString('utf8'), `${what}: ${prefix}Chart.yaml`);
  const valuesText = files.get(`${prefix}values.yaml`)?.toString('utf8') ?? '';
  const values = parseValues(valuesText, `${what}: ${prefix}values.yaml`);
  const subcharts: ChartTree[] = [];
  const subDirs = new Set<string>();
  for (const p of files.keys()) {
    if (!p.startsWith(`${prefix}charts/`)) continue;
    const rest = p.slice(prefix.length + 'charts/'.length);
    const slash = rest.indexOf('/');
    if (slash > 0) subDirs.add(rest.slice(0, slash));
    else if (rest.endsWith('.tgz')) subcharts.push(await loadChartTree(files.get(p)!, `${what}: charts/${rest}`));
  }
  for (const d of [...subDirs].sort()) {
    if (files.has(`${prefix}charts/${d}/Chart.yaml`)) subcharts.push(await build(files, `${prefix}charts/${d}/`, what));
  }
  // apiVersion v1 charts list their dependencies in requirements.yaml (Helm still reads it)
  const requirements = files.get(`${prefix}requirements.yaml`);
  const deps = dependenciesOf(metadata.dependencies);
  if (!deps.length && requirements) deps.push(...dependenciesOf((parseValues(requirements.toString('utf8'), `${what}: ${prefix}requirements.yaml`) as { dependencies?: unknown }).dependencies));
  return { metadata, values, dependencies: deps, subcharts, annotatedImages: annotatedImages(metadata) };
}

export function parseValues(text: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYamlText(text, { maxAliasCount: -1 });
  } catch (err) {
    throw new OperationError(`${what}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new OperationError(`${what}: expected a mapping at the top`);
  return doc as Record<string, unknown>;
}

function dependenciesOf(list: unknown): ChartDependency[] {
  const deps = Array.isArray(list) ? list : [];
  return deps
    .filter((d): d is Record<string, unknown> => !!d && typeof d === 'object' && typeof (d as { name?: unknown }).name === 'string')
    .map((d) => ({
      name: String(d.name),
      version: d.version === undefined ? undefined : String(d.version),
      repository: typeof d.repository === 'string' ? d.repository : undefined,
      condition: typeof d.condition === 'string' && d.condition.trim() ? d.condition : undefined,
      tags: Array.isArray(d.tags) ? d.tags.map(String) : undefined,
      alias: typeof d.alias === 'string' && d.alias ? d.alias : undefined,
    }));
}

function annotatedImages(md: ChartMetadata): Array<{ name?: string; image: string }> {
  const a = md.annotations as Record<string, unknown> | undefined;
  // Artifact Hub's key, or the plain `images` Bitnami charts write (the same list)
  const text = a && typeof a === 'object' ? (a['artifacthub.io/images'] ?? a.images) : undefined;
  if (typeof text !== 'string') return [];
  let list: unknown;
  try {
    list = parseYamlText(text);
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list
    .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object' && typeof (e as { image?: unknown }).image === 'string')
    .map((e) => ({ name: typeof e.name === 'string' ? e.name : undefined, image: String(e.image).trim() }));
}

/** The small files of a chart archive: every Chart.yaml, values.yaml and nested charts/*.tgz. */
async function untarChartFiles(tgz: Buffer, what: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const { Parser } = await import('tar');
  let failed: Error | undefined;
  const parser = new Parser({
    onwarn: () => undefined,
    onReadEntry(entry) {
      const p = entry.path.replace(/^\.\//, '');
      const keep = entry.type === 'File' && (/(^|\/)(Chart\.yaml|values\.yaml|requirements\.yaml)$/.test(p) || /(^|\/)charts\/[^/]+\.tgz$/.test(p));
      if (!keep) {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => files.set(p, Buffer.concat(chunks)));
    },
  });
  parser.on('error', (e: Error) => (failed = e));
  let raw: Buffer;
  try {
    raw = gunzipSync(tgz);
  } catch (err) {
    throw new OperationError(`${what}: not a gzip chart archive (${(err as Error).message})`);
  }
  await new Promise<void>((resolve) => {
    parser.on('end', () => resolve());
    parser.on('close', () => resolve());
    parser.end(raw);
  });
  if (failed) throw new OperationError(`${what}: not a readable chart archive (${failed.message})`);
  return files;
}
