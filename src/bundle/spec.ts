// Loads a bundle spec: schema validation (file:line:field errors), image lists
// read and parsed (their own file:line errors), local chart and CA paths
// resolved against the spec's directory. Everything is checked before any
// download starts, and all problems are reported at once.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError, InputErrors } from '../errors.ts';
import { fieldPath, loadYamlFileLocated } from '../schema/load.ts';
import { bundleSpecSchema, type BundleSpec, type ChartSource, type RegistrySettings } from '../schema/bundle-spec.ts';
import { formatReference, parseReference, type ImageReference } from './registry/reference.ts';

export interface SpecImage {
  ref: ImageReference;
  /** canonical text, e.g. docker.io/library/nginx:1.25 */
  name: string;
  /** where it was listed, for messages */
  origin: string;
}

export interface SpecChart extends ChartSource {
  /** absolute directory of a local chart */
  dir?: string;
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
      images.push({ ref, name: formatReference(ref), origin: `${file}:${i + 1}` });
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
    add({ ref, name: formatReference(ref), origin: `${file}:${lineOf(['images', i]) ?? '?'}` });
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
    if (c.path === undefined) return { ...c };
    const chartDir = resolve(dir, c.path);
    if (!existsSync(resolve(chartDir, 'Chart.yaml'))) {
      at(['charts', i, 'path'], `expected a chart directory with a Chart.yaml (${chartDir})`);
    }
    return { ...c, dir: chartDir };
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
