import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { formatBytes, progressLine } from '../../bundle/inspect/format.ts';
import { mappingRef, parseRegistryTarget } from '../../bundle/install/plan.ts';
import { installBundle, type InstallSummary } from '../../bundle/install/install.ts';
import { InputError, UsageError } from '../../errors.ts';
import { runFatalCleanups } from '../../in-flight.ts';
import { loadYamlFile } from '../../schema/load.ts';
import { siteSchema } from '../../schema/site.ts';
import { positiveInt, type Command } from '../args.ts';
import { SIGNER_USAGE, signerOptions, signerPolicyFrom } from './signer-flags.ts';

export const bundleInstallCommand: Command = {
  name: 'bundle install',
  summary: 'push a bundle into the site registry',
  usage: `Usage: astrago-check bundle install FILE.tar --registry HOST[:PORT][/PREFIX] [options]

Checks that the registry answers and takes the credentials, verifies the bundle
(nothing changes when either fails), pushes every image to
REGISTRY[/PREFIX]/<source host>/<path> (docker.io/library/nginx:1.25 ->
REGISTRY/PREFIX/docker.io/library/nginx:1.25; a host's ':PORT' becomes '_PORT';
tags and digests kept) and every chart as an OCI Helm chart to
REGISTRY[/PREFIX]/charts/NAME:VERSION, then writes the charts directory (with
the runtime mirrors: containerd/certs.d/<host>/hosts.toml, registries.yaml for
RKE2/k3s, so nodes pull the original references from the site registry) and the
bundle's files (helm, kubectl...) with their modes; a failed push leaves both
directories as they were. Blobs the registry already has are skipped, blobs
shared between repositories are mounted, so a second run uploads nothing.

Options:
  --registry REF        target registry, optionally with a path prefix
  --ca-file FILE        CA bundle (PEM) for the registry's TLS certificate
  --insecure            plain HTTP / no TLS verification for the registry
  --dry-run             print the plan, change nothing (the registry is not contacted)
  --flat                REGISTRY[/PREFIX]/<path>, the source host dropped; refused
                        (before anything is pushed) where two images would share a target
  --charts-dir DIR      write the charts, index.yaml, registry-values.yaml, values/<chart>.yaml
                        and the runtime mirrors here
                        (default ./astrago-charts)
  --files-dir DIR       write the bundle's files/ here, with their modes
                        (default: astrago-files beside the charts directory)
  --concurrency N       parallel uploads (default 8)
  --helm PATH           helm that renders each chart with its values/<chart>.yaml to
                        name images still from elsewhere (default: $ASTRAGO_HELM, else
                        helm on PATH; without one, no render check)
  --site FILE           take the registry's username, passwordEnv/passwordFile,
                        caFile and insecure from the site file's 'registry'
  --base OLD.tar        a delta bundle's base: what the delta leaves out is pushed from there
                        (without it, the registry must already hold it: install OLD first)
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
    helm: { type: 'string' },
    'charts-dir': { type: 'string' },
    'files-dir': { type: 'string' },
    concurrency: { type: 'string' },
    site: { type: 'string' },
    ...signerOptions,
    base: { type: 'string' },
  },
  positionals: [1, 1],
  async run(values, positionals, io) {
    if (typeof values.registry !== 'string' || !values.registry) throw new UsageError('bundle install: --registry HOST[:PORT][/PREFIX] is required');
    const concurrency = positiveInt('bundle install', 'concurrency', values.concurrency, 64) ?? 8;
    const fromSite = typeof values.site === 'string' ? siteRegistry(resolve(io.cwd, values.site), values.registry, io.env) : {};
    const signers = await signerPolicyFrom('bundle install', values, io.cwd);
    const progress = progressLine(io.stderr);
    // SIGINT/SIGTERM stop at once: what was pushed stays (the next run skips it), uploads in
    // flight are dropped by the registry, the local directories are written only at the end.
    const onSignal = (sig: NodeJS.Signals) => {
      progress.done();
      io.stderr.write(`${sig}: bundle install stopped; what was pushed stays in the registry and the next run skips it; the charts and files directories are written only when every push succeeded\n`);
      runFatalCleanups();
      process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const summary = await installBundle({
      file: positionals[0]!,
      ...(signers ? { signers } : {}),
      ...(typeof values.base === 'string' ? { base: values.base } : {}),
      registry: values.registry,
      ...fromSite,
      ...(typeof values['ca-file'] === 'string' ? { caFile: values['ca-file'] } : {}),
      ...(values.insecure === true ? { insecure: true } : {}),
      dryRun: values['dry-run'] === true,
      flat: values.flat === true,
      ...(typeof values.helm === 'string' ? { helm: values.helm } : {}),
      chartsDir: values['charts-dir'] as string | undefined,
      filesDir: values['files-dir'] as string | undefined,
      concurrency,
      env: io.env,
      cwd: io.cwd,
      log: (line) => {
        progress.done();
        io.stdout.write(line + '\n');
      },
      status: (line) => (line ? progress.update(line) : progress.done()),
    }).finally(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
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
    ...(s.chartValues.length ? [`  per chart  ${s.chartValues.join(', ')} (helm -f: every image each chart's values name, at its site copy)`] : []),
    ...(s.mirrors.length ? [`  mirrors    ${s.mirrors.join(', ')} (copy containerd/certs.d/* to /etc/containerd/certs.d/ on every node, with config_path set; RKE2/k3s: registries.yaml)`] : []),
    ...(s.files.length ? [`  files      ${s.filesDir} (${s.files.map((f) => basename(f)).join(', ')})`] : []),
  ];
  return lines.join('\n') + '\n';
}

/**
 * The site file's registry settings for the --registry host: secret
 * references (never the secret), CA file and insecure, paths relative to the
 * site file. A site registry for another host is an input error.
 */
function siteRegistry(file: string, registry: string, env: NodeJS.ProcessEnv): { caFile?: string; insecure?: boolean; username?: string; passwordEnv?: string; passwordFile?: string } {
  const site = loadYamlFile(file, siteSchema);
  const reg = site.registry;
  if (!reg) throw new InputError({ file, field: 'registry', expected: 'a registry section (url, caFile, username, passwordEnv or passwordFile) for bundle install --site' });
  const host = reg.url.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  const target = parseRegistryTarget(registry).host;
  if (host !== target) throw new InputError({ file, field: 'registry.url', expected: `names the registry ${host}, but --registry names ${target}: give --registry ${host}[/PREFIX], or correct registry.url` });
  // Before the registry is contacted: an unset variable is the site file's fault, not the network's.
  if (reg.passwordEnv && env[reg.passwordEnv] === undefined) throw new InputError({ file, field: 'registry.passwordEnv', expected: `environment variable ${reg.passwordEnv} is not set: export it with the registry password (or use passwordFile)` });
  const rel = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(dirname(file), p));
  return {
    ...(reg.caFile ? { caFile: rel(reg.caFile) } : {}),
    ...(reg.insecure ? { insecure: true } : {}),
    ...(reg.username ? { username: reg.username } : {}),
    ...(reg.passwordEnv ? { passwordEnv: reg.passwordEnv } : {}),
    ...(reg.passwordFile ? { passwordFile: rel(reg.passwordFile) } : {}),
  };
}
