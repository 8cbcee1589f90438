// Loads a bundle spec: schema validation (file:line:field errors), image lists
// read and parsed (their own file:line errors), local chart and CA paths
// resolved against the spec's directory. Everything is checked before any
// download starts, and all problems are reported at once.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { dirname, resolve } from 'node:path';
import { InputError, InputErrors } from '../../errors.ts';
import { fieldPath, loadYamlFileLocated } from '../../schema/load.ts';
import { bundleSpecSchema, type BundleSpec, type ChartSource, type RegistrySettings } from '../../schema/bundle-spec.ts';
import { formatReference, parseReference, type ImageReference } from '../../oci/reference.ts';
import { isMap, parseValuesPath, setPath, type PathPart, type Values } from '../charts/values-merge.ts';

export interface SpecImage {
  ref: ImageReference;
  /** canonical text, e.g. docker.io/library/nginx:1.25 */
  name: string;
  /** where it was listed, for messages: FILE:LINE */
  origin: string;
  /** the same, as data: an image list's line, or the spec's `images` entry */
  source: { type: 'list' | 'spec'; file: string; line?: number };
}

export interface SpecChart extends ChartSource {
  /** absolute directory of a local chart */
  dir?: string;
  /** the chart's values files, absolute, parsed (in order) */
  valuesData?: Array<{ file: string; values: Values }>;
  /** `set`, as paths with the spec line of each */
  setPaths?: Array<{ key: string; parts: PathPart[]; value: unknown; line?: number }>;
}

export interface LoadedSpec {
  file: string;
  dir: string;
  spec: BundleSpec;
  /** inline images and image lists, deduplicated by canonical reference, in first-seen order */
  images: SpecImage[];
  charts: SpecChart[];
  /** registries with caFile/passwordFile made absolute */
  registries: RegistrySettings[];
}

/** Parses an image list: one reference per line, `#` comments, blank lines ignored. */
export function parseImageList(text: string, file: string): { images: SpecImage[]; errors: InputError[] } {
  const images: SpecImage[] = [];
  const errors: InputError[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    try {
      const ref = parseReference(line);
      images.push({ ref, name: formatReference(ref), origin: `${file}:${i + 1}`, source: { type: 'list', file, line: i + 1 } });
    } catch (err) {
      errors.push(new InputError({ file, line: i + 1, field: 'image', expected: (err as Error).message }));
    }
  });
  return { images, errors };
}

/**
 * Loads and checks a spec. With `env`, registry secrets are checked too (the
 * variable is set, the file readable), so a missing one is an input error
 * (exit 2) before any download; their values are never kept or shown.
 */
export function loadBundleSpec(file: string, env?: NodeJS.ProcessEnv): LoadedSpec {
  const { value: spec, lineOf } = loadYamlFileLocated(file, bundleSpecSchema);
  const dir = dirname(resolve(file));
  const errors: InputError[] = [];
  const at = (path: (string | number)[], expected: string) =>
    errors.push(new InputError({ file, line: lineOf(path), field: fieldPath(path), expected }));

  const seen = new Map<string, SpecImage>();
  const add = (img: SpecImage) => {
    if (!seen.has(img.name)) seen.set(img.name, img);
  };
  spec.images.forEach((s, i) => {
    const ref = parseReference(s); // the schema already checked it
    const line = lineOf(['images', i]);
    add({ ref, name: formatReference(ref), origin: `${file}:${line ?? '?'}`, source: { type: 'spec', file, line } });
  });
  spec.imageLists.forEach((p, i) => {
    const listFile = resolve(dir, p);
    let listText: string;
    try {
      listText = readFileSync(listFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      at(['imageLists', i], `image list ${listFile}: ${code === 'ENOENT' ? 'file not found' : `cannot read (${code})`}`);
      return;
    }
    const parsed = parseImageList(listText, listFile);
    errors.push(...parsed.errors);
    parsed.images.forEach(add);
  });

  const charts: SpecChart[] = spec.charts.map((c, i) => {
    const out: SpecChart = { ...c, ...chartValues(c, i, dir, file, lineOf, errors) };
    if (c.path === undefined) return out;
    const chartDir = resolve(dir, c.path);
    if (!existsSync(resolve(chartDir, 'Chart.yaml'))) {
      at(['charts', i, 'path'], `expected a chart directory with a Chart.yaml (${chartDir})`);
    }
    return { ...out, dir: chartDir };
  });
  const names = new Map<string, number>();
  charts.forEach((c, i) => {
    const key = `${c.name}@${c.version ?? ''}`;
    if (names.has(key)) at(['charts', i, 'name'], `chart ${c.name} ${c.version ?? ''} is listed twice (also charts[${names.get(key)}])`);
    names.set(key, i);
  });
  const fileNames = new Set<string>();
  spec.files.forEach((f, i) => {
    if (fileNames.has(f.name)) at(['files', i, 'name'], `file name '${f.name}' is used twice`);
    fileNames.add(f.name);
  });

  const registries = spec.registries.map((r, i) => {
    const out = { ...r };
    if (r.caFile) {
      out.caFile = resolve(dir, r.caFile);
      if (!existsSync(out.caFile) || !statSync(out.caFile).isFile()) at(['registries', i, 'caFile'], `CA file not found: ${out.caFile}`);
    }
    if (r.passwordFile) {
      out.passwordFile = resolve(dir, r.passwordFile);
      if (env) {
        try {
          readFileSync(out.passwordFile);
        } catch (err) {
          at(['registries', i, 'passwordFile'], `cannot read password file ${out.passwordFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
    }
    if (r.passwordEnv && env && env[r.passwordEnv] === undefined) at(['registries', i, 'passwordEnv'], `environment variable ${r.passwordEnv} is not set`);
    if ((r.passwordEnv || r.passwordFile) && !r.username) at(['registries', i, 'username'], 'required field is missing (a password needs a username)');
    return out;
  });
  if (errors.length) throw new InputErrors(errors);
  return { file, dir, spec, images: [...seen.values()], charts, registries };
}

/** A chart's `values` files (read and parsed) and `set` paths (checked), each problem an InputError. */
function chartValues(c: ChartSource, i: number, dir: string, file: string, lineOf: (p: (string | number)[]) => number | undefined, errors: InputError[]): Pick<SpecChart, 'valuesData' | 'setPaths'> {
  const valuesData: Array<{ file: string; values: Values }> = [];
  (c.values ?? []).forEach((p, j) => {
    const vf = resolve(dir, p);
    const where = { file, line: lineOf(['charts', i, 'values', j]), field: `charts[${i}].values[${j}]` };
    let text: string;
    try {
      text = readFileSync(vf, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      errors.push(new InputError({ ...where, expected: `values file ${vf}: ${code === 'ENOENT' ? 'file not found' : `cannot read (${code})`}` }));
      return;
    }
    const doc = parseDocument(text, { lineCounter: new LineCounter(), prettyErrors: true });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      errors.push(new InputError({ file: vf, line: e.linePos?.[0]?.line, expected: `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` }));
      return;
    }
    const values: unknown = doc.toJS({ maxAliasCount: 100 });
    if (values !== null && values !== undefined && !isMap(values)) {
      errors.push(new InputError({ file: vf, line: 1, expected: 'a values file is a mapping (key: value) at the top' }));
      return;
    }
    valuesData.push({ file: vf, values: (values as Values | null) ?? {} });
  });
  const setPaths: NonNullable<SpecChart['setPaths']> = [];
  const probe: Values = {};
  for (const [key, value] of Object.entries(c.set ?? {})) {
    const line = lineOf(['charts', i, 'set', key]);
    const field = `charts[${i}].set.${key}`;
    try {
      const parts = parseValuesPath(key);
      setPath(probe, parts, value);
      setPaths.push({ key, parts, value, line });
    } catch (err) {
      errors.push(new InputError({ file, line, field, expected: `a values path like image.tag or env[0].value (${(err as Error).message})` }));
    }
  }
  return { valuesData, setPaths };
}
