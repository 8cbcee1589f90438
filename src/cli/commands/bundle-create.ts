import { resolve } from 'node:path';
import { listOption, positiveInt, type Command } from '../args.ts';
import { UsageError } from '../../errors.ts';
import { createBundle } from '../../bundle/create/create.ts';
import { formatBytes } from '../../bundle/inspect/format.ts';
import { parseSize } from '../../archive/parts-file.ts';
import { PLATFORM_RE } from '../../schema/bundle-spec.ts';

export const bundleCreateCommand: Command = {
  name: 'bundle create',
  summary: 'download charts, images and files into one offline tarball',
  usage: `Usage: astrago-check bundle create --spec FILE.yaml --output FILE.tar [options]

Options:
  --spec FILE           bundle spec (kind BundleSpec)
  --output FILE         the tar to write (FILE.tar.sha256 is written beside it)
  --platform OS/ARCH    keep only these image platforms (repeatable; overrides the spec; 'all' keeps whole indexes)
  --cache-dir DIR       content-addressed cache; a repeated or interrupted run resumes from it
                        (default $XDG_CACHE_HOME/astrago-check or ~/.cache/astrago-check)
  --concurrency N       layer requests at once, byte ranges included; charts, files and
                        manifests have as many slots again (default 8)
  --piece-size SIZE     download a layer larger than SIZE in byte ranges of SIZE (default 16MiB; 0: one
                        stream per layer); where the registry honours ranges, large layers share the
                        connections to the end instead of finishing alone (the last N x SIZE bytes,
                        N = --concurrency, come in ranges of SIZE/4, at least 1MiB)
  --base OLD.tar        make a delta: leave out the layers, charts and files OLD holds (OLD.tar, its
                        first part, or its bundle.yaml); install needs OLD in the registry (or --base)
  --split SIZE          write FILE.tar.000, .001, ... of SIZE each (e.g. 4GiB) and FILE.tar.parts.json
                        instead of one FILE.tar (the parts, concatenated, are that tar)
  --helm PATH           helm, to render the charts for their images (default $ASTRAGO_HELM, else helm on PATH;
                        without helm their values are walked, and guessed tags are warned about)
  -h, --help            this help

Registry credentials: the spec's registries[] (passwordEnv/passwordFile) or ~/.docker/config.json
($DOCKER_CONFIG). HTTP_PROXY/HTTPS_PROXY/NO_PROXY are honoured. SOURCE_DATE_EPOCH sets the tar's mtimes.`,
  options: {
    spec: { type: 'string' },
    output: { type: 'string' },
    platform: { type: 'string', multiple: true },
    'cache-dir': { type: 'string' },
    concurrency: { type: 'string' },
    'piece-size': { type: 'string' },
    split: { type: 'string' },
    helm: { type: 'string' },
    base: { type: 'string' },
  },
  async run(values, _positionals, io) {
    const spec = values.spec as string | undefined;
    const output = values.output as string | undefined;
    if (!spec) throw new UsageError('bundle create: --spec FILE.yaml is required');
    if (!output) throw new UsageError('bundle create: --output FILE.tar is required');
    const pieceBytes = values['piece-size'] === undefined ? undefined : values['piece-size'] === '0' ? 0 : parseSize('bundle create', 'piece-size', values['piece-size']);
    const split = values.split === undefined ? undefined : parseSize('bundle create', 'split', values.split);
    const platforms = listOption(values.platform);
    for (const p of platforms) {
      if (p !== 'all' && !PLATFORM_RE.test(p)) throw new UsageError(`bundle create: --platform expects os/arch[/variant] like linux/amd64, or 'all' (got '${p}')`);
    }
    // The first SIGINT or SIGTERM stops the run cleanly (the cache keeps what was downloaded, the
    // temp tar is removed); a second one finds no handler and ends the process at once.
    const stop = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.stderr.write(`${sig}: stopping; what was downloaded stays in the cache (${sig} again to quit at once)\n`);
      stop.abort(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const made = await createBundle({
        // As typed when relative to the process cwd, so errors name the file the way the user wrote it.
        specFile: io.cwd === process.cwd() ? spec : resolve(io.cwd, spec),
        output: resolve(io.cwd, output),
        platforms,
        cacheDir: values['cache-dir'] ? resolve(io.cwd, values['cache-dir'] as string) : undefined,
        concurrency: positiveInt('bundle create', 'concurrency', values.concurrency, 256),
        ...(pieceBytes !== undefined ? { pieceBytes } : {}),
        env: io.env,
        helm: values.helm === undefined ? undefined : resolve(io.cwd, String(values.helm)),
        stderr: io.stderr,
        signal: stop.signal,
        ...(typeof values.base === 'string' ? { base: resolve(io.cwd, values.base) } : {}),
      });
      if (split !== undefined) {
        // Split where the tar was written: the parts peel off its end, so the disk never holds two tars.
        const { splitInPlace } = await import('../../bundle/parts/split.ts');
        const { renderParts } = await import('./bundle-split.ts');
        const r = await splitInPlace(made.file, split);
        io.stderr.write(`split into ${r.parts.length} parts of at most ${formatBytes(split)}: ${r.partsFile}\n${renderParts(r.parts)}`);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};
