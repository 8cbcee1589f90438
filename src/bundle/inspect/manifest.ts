// bundle.yaml as verify, inspect and install read it: the fields they rely on
// (src/schema/bundle-manifest.ts has the whole shape bundle create writes),
// checked leniently so a bundle from a newer tool with added fields still
// verifies and installs.
import { parse } from 'yaml';
import { InputError } from '../../errors.ts';
import { isDigest } from '../../oci/digest.ts';

export interface BundleManifestView {
  metadata: { name: string; version: string; createdBy?: string };
  tool?: { name: string; version: string };
  platforms: string[];
  charts: Array<{ name: string; version: string; file: string; digest: string; size: number }>;
  images: Array<{ ref: string; digest: string; platforms?: string[]; size?: number; layers?: string[] }>;
  files: Array<{ name: string; file: string; digest: string; size: number }>;
  spec?: unknown;
  /** a delta bundle's base, and what this tar leaves out because the base has it */
  base?: DeltaBase;
  [k: string]: unknown;
}

export interface DeltaBase {
  name: string;
  version: string;
  manifestDigest: string;
  omitted: { blobs: Array<{ digest: string; size: number }>; charts: string[]; files: string[] };
}

function checkBase(b: unknown): DeltaBase {
  const o = b as Record<string, unknown>;
  need(!!o && typeof o === 'object' && typeof o.name === 'string' && typeof o.version === 'string', 'base', 'a mapping with name, version, manifestDigest and omitted');
  need(typeof o.manifestDigest === 'string' && /^sha256:[0-9a-f]{64}$/.test(o.manifestDigest), 'base.manifestDigest', 'expected sha256:<64 hex>');
  const om = (o.omitted ?? {}) as Record<string, unknown>;
  const list = (k: string) => {
    const v = om[k] ?? [];
    need(Array.isArray(v), `base.omitted.${k}`, 'expected a list');
    return v as unknown[];
  };
  const blobs = list('blobs').map((x, i) => {
    const e = x as Record<string, unknown>;
    need(!!e && typeof e.digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(e.digest) && typeof e.size === 'number', `base.omitted.blobs[${i}]`, 'expected {digest: sha256:<64 hex>, size}');
    return { digest: e.digest as string, size: e.size as number };
  });
  const paths = (k: string) => list(k).map((x, i) => (need(typeof x === 'string', `base.omitted.${k}[${i}]`, 'expected a path'), x as string));
  return { name: o.name as string, version: o.version as string, manifestDigest: o.manifestDigest as string, omitted: { blobs, charts: paths('charts'), files: paths('files') } };
}

function need(cond: boolean, field: string, expected: string): void {
  if (!cond) throw new InputError({ file: 'bundle.yaml', field, expected });
}

export function loadBundleManifest(text: string): BundleManifestView {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new InputError({ file: 'bundle.yaml', expected: `invalid YAML: ${(err as Error).message.split('\n')[0]}` });
  }
  const m = doc as Record<string, unknown>;
  need(!!m && typeof m === 'object', '', 'a mapping');
  need(m.kind === 'BundleManifest', 'kind', "expected 'BundleManifest'");
  const md = m.metadata as Record<string, unknown> | undefined;
  need(!!md && typeof md === 'object' && typeof md.name === 'string', 'metadata.name', 'expected a string');
  const arr = (k: string) => {
    const v = m[k] ?? [];
    need(Array.isArray(v), k, 'expected a list');
    return v as Array<Record<string, unknown>>;
  };
  const entry = (k: string, i: number, e: Record<string, unknown>, fields: string[]) => {
    need(!!e && typeof e === 'object' && !Array.isArray(e), `${k}[${i}]`, 'expected a mapping');
    for (const f of fields) {
      if (f === 'size') need(typeof e.size === 'number' && Number.isSafeInteger(e.size) && e.size >= 0, `${k}[${i}].size`, 'expected a byte count');
      else if (f === 'digest') need(isDigest(e.digest), `${k}[${i}].digest`, 'expected sha256:<64 hex>');
      else need(typeof e[f] === 'string', `${k}[${i}].${f}`, 'expected a string');
    }
  };
  arr('charts').forEach((c, i) => entry('charts', i, c, ['name', 'version', 'file', 'digest', 'size']));
  arr('files').forEach((c, i) => entry('files', i, c, ['name', 'file', 'digest', 'size']));
  arr('images').forEach((c, i) => entry('images', i, c, ['ref', 'digest']));
  return {
    ...m,
    metadata: { name: String(md!.name), version: String(md!.version ?? ''), createdBy: typeof md!.createdBy === 'string' ? md!.createdBy : undefined },
    ...(m.tool && typeof m.tool === 'object' ? { tool: { name: String((m.tool as Record<string, unknown>).name ?? ''), version: String((m.tool as Record<string, unknown>).version ?? '') } } : {}),
    platforms: Array.isArray(m.platforms) ? m.platforms.map(String) : [],
    charts: arr('charts') as BundleManifestView['charts'],
    images: arr('images') as BundleManifestView['images'],
    files: arr('files') as BundleManifestView['files'],
    ...(m.base !== undefined ? { base: checkBase(m.base) } : {}),
  };
}
