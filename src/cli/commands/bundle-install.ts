import { dirname, isAbsolute, resolve } from 'node:path';
import { formatBytes, progressLine } from '../../bundle/inspect-format.ts';
import { mappingRef, parseRegistryTarget } from '../../bundle/install-plan.ts';
import { installBundle, type InstallSummary } from '../../bundle/install.ts';
import { InputError, UsageError } from '../../errors.ts';
import { loadYamlFile } from '../../schema/load.ts';
import { siteSchema } from '../../schema/site.ts';
import { positiveInt, type Command } from '../args.ts';
import { SIGNER_USAGE, signerOptions, signerPolicyFrom } from './signer-flags.ts';

export const bundleInstallCommand: Command = {
  name: 'bundle install',
  summary: 'push a bundle into the site registry',
  usage: `Usage: astrago-check bundle install FILE.tar --registry HOST[:PORT][/PREFIX] [options]

Verifies the bundle first (nothing changes when it fails), writes the charts
directory, then pushes every image to REGISTRY[/PREFIX]/<source host>/<path>
(docker.io/library/nginx:1.25 -> REGISTRY/PREFIX/docker.io/library/nginx:1.25;
a host's ':PORT' becomes '_PORT'; tags and digests kept) and every chart as an
OCI Helm chart to REGISTRY[/PREFIX]/charts/NAME:VERSION. The charts directory
gets the runtime mirrors (containerd/certs.d/<host>/hosts.toml, registries.yaml
for RKE2/k3s) so nodes pull the original references from the site registry.
Blobs the registry already has are skipped, blobs shared between repositories are
mounted, so a second run uploads nothing.

Options:
  --registry REF        target registry, optionally with a path prefix
  --ca-file FILE        CA bundle (PEM) for the registry's TLS certificate
  --insecure            plain HTTP / no TLS verification for the registry
  --dry-run             print the plan, change nothing (the registry is not contacted)
  --flat                REGISTRY[/PREFIX]/<path>, the source host dropped; refused
                        (before anything is pushed) where two images would share a target
  --charts-dir DIR      write the charts, index.yaml and registry-values.yaml here
                        (default ./astrago-charts)
  --concurrency N       parallel uploads (default 8)
  --site FILE           take the registry's username, passwordEnv/passwordFile,
                        caFile and insecure from the site file's 'registry'
${SIGNER_USAGE}
  -h, --help            this help

Credentials: the site file's registry secret reference (--site), else
~/.docker/config.json (or $DOCKER_CONFIG/config.json) as written by 'docker login'
or 'skopeo login'; never on the command line.`,
  options: {
    registry: { type: 'string' },
    'ca-file': { type: 'string' },
    insecure: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    flat: { type: 'boolean' },
    'charts-dir': { type: 'string' },
    concurrency: { type: 'string' },
    site: { type: 'string' },
    ...signerOptions,
  },
  positionals: [1, 1],
  async run(values, positionals, io) {
    if (typeof values.registry !== 'string' || !values.registry) throw new UsageError('bundle install: --registry HOST[:PORT][/PREFIX] is required');
    const concurrency = positiveInt('bundle install', 'concurrency', values.concurrency, 64) ?? 8;
    const fromSite = typeof values.site === 'string' ? siteRegistry(resolve(io.cwd, values.site), values.registry) : {};
    const signers = await signerPolicyFrom('bundle install', values, io.cwd);
    const progress = progressLine(io.stderr);
    const summary = await installBundle({
      file: positionals[0]!,
      ...(signers ? { signers } : {}),
      registry: values.registry,
      ...fromSite,
      ...(typeof values['ca-file'] === 'string' ? { caFile: values['ca-file'] } : {}),
      ...(values.insecure === true ? { insecure: true } : {}),
      dryRun: values['dry-run'] === true,
      flat: values.flat === true,
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
    ...s.images.map((i) => `    ${i.original} -> ${mappingRef(i)}`),
    `  charts dir ${s.chartsDir}`,
    `  values     ${s.valuesFile} (helm -f / helmfile values: points the charts at ${s.registry})`,
  ];
  return lines.join('\n') + '\n';
}

/**
 * The site file's registry settings for the --registry host: secret
 * references (never the secret), CA file and insecure, paths relative to the
 * site file. A site registry for another host is an input error.
 */
function siteRegistry(file: string, registry: string): { caFile?: string; insecure?: boolean; username?: string; passwordEnv?: string; passwordFile?: string } {
  const site = loadYamlFile(file, siteSchema);
  const reg = site.registry;
  if (!reg) throw new InputError({ file, field: 'registry', expected: 'a registry section (url, caFile, username, passwordEnv or passwordFile) for bundle install --site' });
  const host = reg.url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  const target = parseRegistryTarget(registry).host;
  if (host !== target) throw new InputError({ file, field: 'registry.url', expected: `the --registry host ${target} (the site's registry is ${host})` });
  const rel = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(dirname(file), p));
  return {
    ...(reg.caFile ? { caFile: rel(reg.caFile) } : {}),
    ...(reg.insecure ? { insecure: true } : {}),
    ...(reg.username ? { username: reg.username } : {}),
    ...(reg.passwordEnv ? { passwordEnv: reg.passwordEnv } : {}),
    ...(reg.passwordFile ? { passwordFile: rel(reg.passwordFile) } : {}),
  };
}
