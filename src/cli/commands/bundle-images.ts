import { resolve } from 'node:path';
import { stringify } from 'yaml';
import pLimit from 'p-limit';
import { OperationError, UsageError } from '../../errors.ts';
import { bundleMtime, defaultCacheDir } from '../../bundle/create/create.ts';
import { fetchSpecCharts } from '../../bundle/charts/fetch.ts';
import { describeSource, type BundleImage } from '../../bundle/charts/image-set.ts';
import { findHelm } from '../../bundle/charts/render.ts';
import { discoverSpecImages } from '../../bundle/charts/spec-images.ts';
import { HttpSource } from '../../bundle/create/http-source.ts';
import { formatReference, parseReference } from '../../oci/reference.ts';
import { RegistryClient } from '../../oci/registry/client.ts';
import { loadBundleSpec } from '../../bundle/spec/spec.ts';
import { ContentStore } from '../../bundle/store/store.ts';
import { API_VERSION } from '../../schema/common.ts';
import { oneOf, type Command } from '../args.ts';

const FORMATS = ['text', 'yaml', 'json'] as const;

export const bundleImagesCommand: Command = {
  name: 'bundle images',
  summary: 'list every image a bundle of a spec carries, and where each comes from',
  usage: `Usage: astrago-check bundle images --spec FILE.yaml [options]

Renders each chart of the spec with 'helm template' (its values files and set
entries, the spec's kubeVersion) and lists the images its manifests deploy:
containers of every workload kind, custom-resource image fields, image
references in args and env, and Chart.yaml's artifacthub.io/images; then the
spec's images and image lists. Without helm the charts' values are walked
instead, and tags taken from appVersion are marked guessed.

Options:
  --spec FILE           bundle spec (kind BundleSpec)
  --format F            text (one reference a line, an image list), yaml or json (default text)
  --why REF             print where REF comes from (exit 1 when the bundle does not carry it)
  --all                 also images of components the values disable (marked optional)
  --include-tests       also images of test hooks (helm.sh/hook: test)
  --helm PATH           the helm binary (default $ASTRAGO_HELM, else helm on PATH)
  --cache-dir DIR       where charts are downloaded (the bundle create cache)
  -h, --help            this help`,
  options: {
    spec: { type: 'string' },
    format: { type: 'string' },
    why: { type: 'string' },
    all: { type: 'boolean' },
    'include-tests': { type: 'boolean' },
    helm: { type: 'string' },
    'cache-dir': { type: 'string' },
  },
  async run(values, _positionals, io) {
    const specArg = values.spec as string | undefined;
    if (!specArg) throw new UsageError('bundle images: --spec FILE.yaml is required');
    const format = oneOf('bundle images', 'format', values.format, FORMATS) ?? 'text';
    let why: string | undefined;
    if (values.why !== undefined) {
      try {
        why = formatReference(parseReference(String(values.why)));
      } catch (err) {
        throw new UsageError(`bundle images: --why: ${(err as Error).message}`);
      }
    }
    const env = io.env;
    const helm = findHelm(values.helm === undefined ? undefined : resolve(io.cwd, String(values.helm)), env);
    const specFile = io.cwd === process.cwd() ? specArg : resolve(io.cwd, specArg);
    const loaded = loadBundleSpec(specFile, env);
    const client = new RegistryClient({ registries: loaded.registries, env });
    try {
      const store = new ContentStore(resolve(values['cache-dir'] ? resolve(io.cwd, String(values['cache-dir'])) : defaultCacheDir(env)));
      const failures: string[] = [];
      const ctx = { client, http: new HttpSource(client.transport), store, mtime: bundleMtime(env), specFile };
      const limit = pLimit(4);
      const fetched = await fetchSpecCharts(loaded.charts, ctx, { limit: (_c, fn) => limit(fn), failures });
      if (failures.length) throw new OperationError(`${failures.length} chart(s) could not be fetched:\n  ${failures.join('\n  ')}`);
      const found = await discoverSpecImages(
        loaded,
        fetched.map((f, i) => ({ chart: loaded.charts[i]!, file: store.path(f!.digest) })),
        { helm, all: !!values.all, includeTests: !!values['include-tests'], force: true },
      );
      for (const w of found.warnings) io.stderr.write(`warning: ${w}\n`);
      if (why) return printWhy(why, found.images, io.stdout, io.stderr);
      if (format === 'text') io.stdout.write(found.images.map((i) => textLine(i)).join(''));
      else {
        const doc = { apiVersion: API_VERSION, kind: 'BundleImages', images: found.images.map(imageDoc), warnings: found.warnings };
        io.stdout.write(format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : stringify(doc, { lineWidth: 0 }));
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};

function textLine(i: BundleImage): string {
  const notes = [i.optional ? 'optional' : '', i.guessed ? 'guessed' : ''].filter(Boolean);
  return `${i.ref}${notes.length ? `  # ${notes.join(', ')}` : ''}\n`;
}

function imageDoc(i: BundleImage) {
  return { ref: i.ref, sources: i.sources, optional: i.optional, guessed: i.guessed, ...(i.paths ? { values: i.paths } : {}) };
}

function printWhy(ref: string, images: BundleImage[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): number {
  const img = images.find((i) => i.ref === ref);
  if (!img) {
    const r = parseReference(ref);
    const others = images.filter((i) => i.reference.registry === r.registry && i.reference.repository === r.repository).map((i) => i.ref);
    stderr.write(`${ref}: not in this bundle${others.length ? ` (it carries ${others.join(', ')})` : ''}\n`);
    return 1;
  }
  stdout.write(`${img.ref}${img.optional ? ' (optional: only a component the values disable uses it)' : ''}${img.guessed ? ' (tag guessed from appVersion)' : ''}\n`);
  for (const s of img.sources) stdout.write(`  ${describeSource(s)}\n`);
  return 0;
}
