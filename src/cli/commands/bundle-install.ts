import { formatBytes, progressLine } from '../../bundle/inspect-format.ts';
import { installBundle, type InstallSummary } from '../../bundle/install.ts';
import { UsageError } from '../../errors.ts';
import { positiveInt, type Command } from '../args.ts';

export const bundleInstallCommand: Command = {
  name: 'bundle install',
  summary: 'push a bundle into the site registry',
  usage: `Usage: astrago-check bundle install FILE.tar --registry HOST[:PORT][/PREFIX] [options]

Verifies the bundle first (nothing changes when it fails), writes the charts
directory, then pushes every image to REGISTRY[/PREFIX]/<original repository path>
(docker.io/library/nginx:1.25 -> REGISTRY/PREFIX/library/nginx:1.25; tags and
digests kept) and every chart as an OCI Helm chart to REGISTRY[/PREFIX]/charts/NAME:VERSION.
Blobs the registry already has are skipped, blobs shared between repositories are
mounted, so a second run uploads nothing.

Options:
  --registry REF        target registry, optionally with a path prefix
  --ca-file FILE        CA bundle (PEM) for the registry's TLS certificate
  --insecure            plain HTTP / no TLS verification for the registry
  --dry-run             print the plan, change nothing (the registry is not contacted)
  --charts-dir DIR      write the charts, index.yaml and registry-values.yaml here
                        (default ./astrago-charts)
  --concurrency N       parallel uploads (default 8)
  -h, --help            this help

Credentials: ~/.docker/config.json (or $DOCKER_CONFIG/config.json), as written by
'docker login' or 'skopeo login'; never on the command line.`,
  options: {
    registry: { type: 'string' },
    'ca-file': { type: 'string' },
    insecure: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'charts-dir': { type: 'string' },
    concurrency: { type: 'string' },
  },
  positionals: [1, 1],
  async run(values, positionals, io) {
    if (typeof values.registry !== 'string' || !values.registry) throw new UsageError('bundle install: --registry HOST[:PORT][/PREFIX] is required');
    const concurrency = positiveInt('bundle install', 'concurrency', values.concurrency, 64) ?? 8;
    const progress = progressLine(io.stderr);
    const summary = await installBundle({
      file: positionals[0]!,
      registry: values.registry,
      caFile: values['ca-file'] as string | undefined,
      insecure: values.insecure === true,
      dryRun: values['dry-run'] === true,
      chartsDir: values['charts-dir'] as string | undefined,
      concurrency,
      env: io.env,
      cwd: io.cwd,
      log: (line) => {
        progress.done();
        io.stdout.write(line + '\n');
      },
      status: (line) => (line ? progress.update(line) : progress.done()),
    });
    progress.done();
    io.stdout.write(renderSummary(summary));
    return 0;
  },
};

export function renderSummary(s: InstallSummary): string {
  if (s.dryRun) return '';
  const lines = [
    `Installed into ${s.registry}:`,
    `  blobs      ${s.blobsPushed} pushed (${formatBytes(s.bytesPushed)}), ${s.blobsMounted} mounted, ${s.blobsSkipped} skipped (already there)`,
    `  manifests  ${s.manifestsPushed} pushed, ${s.manifestsSkipped} skipped (already there)`,
    `  images     ${s.images.length}, charts ${s.charts.length}`,
    `  charts dir ${s.chartsDir}`,
    `  values     ${s.valuesFile} (helm -f / helmfile values: points the charts at ${s.registry})`,
  ];
  return lines.join('\n') + '\n';
}
