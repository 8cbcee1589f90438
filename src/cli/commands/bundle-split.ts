import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatBytes } from '../../bundle/inspect/format.ts';
import { parseSize } from '../../archive/parts-file.ts';
import { joinParts, splitTar } from '../../bundle/parts/split.ts';
import { UsageError } from '../../errors.ts';
import type { Command } from '../args.ts';

export const bundleSplitCommand: Command = {
  name: 'bundle split',
  summary: 'split a bundle tar into parts for removable media',
  usage: `Usage: astrago-check bundle split FILE.tar --size SIZE

Writes FILE.tar.000, FILE.tar.001, ... of SIZE bytes each (the last one smaller)
and FILE.tar.parts.json (each part's size and sha256); FILE.tar is kept.
Concatenated, the parts are FILE.tar byte for byte (same FILE.tar.sha256).
bundle verify, inspect and install read the parts as they are: give them
FILE.tar.000 or FILE.tar.parts.json.

Options:
  --size SIZE           bytes per part: 4GiB (FAT32 takes at most 4GiB - 1), 4000M, 700MiB
  -h, --help            this help`,
  options: { size: { type: 'string' } },
  positionals: [1, 1],
  async run(values, positionals, io) {
    if (values.size === undefined) throw new UsageError('bundle split: --size SIZE is required (e.g. 4GiB)');
    const size = parseSize('bundle split', 'size', values.size);
    const r = await splitTar(resolve(io.cwd, positionals[0]!), size);
    io.stdout.write(`${renderParts(r.parts)}wrote ${r.partsFile} (${r.parts.length} parts, ${formatBytes(r.size)}, sha256 ${r.sha256})\n`);
    return 0;
  },
};

export function renderParts(parts: Array<{ file: string; size: number; sha256: string }>): string {
  return parts.map((p) => `  ${p.file}  ${formatBytes(p.size)}  sha256 ${p.sha256}\n`).join('');
}

export const bundleJoinCommand: Command = {
  name: 'bundle join',
  summary: 'join the parts of a split bundle into one tar',
  usage: `Usage: astrago-check bundle join FILE.tar.000|FILE.tar.parts.json [--output FILE.tar]

Writes the parts, in order, into one tar (default: FILE.tar beside them),
checking each part against FILE.tar.parts.json and the whole against its sha256.
Not needed for verify, inspect or install, which read the parts directly.

Options:
  --output FILE         the tar to write (default FILE.tar)
  -h, --help            this help`,
  options: { output: { type: 'string' } },
  positionals: [1, 1],
  async run(values, positionals, io) {
    const { openBundleSource } = await import('../../archive/source.ts');
    const src = await openBundleSource(resolve(io.cwd, positionals[0]!));
    const out = typeof values.output === 'string' ? resolve(io.cwd, values.output) : src.tarName;
    // Its directory made (as bundle create --output does) and writable before a multi-GB copy starts.
    try {
      mkdirSync(dirname(out), { recursive: true });
      accessSync(dirname(out), constants.W_OK);
    } catch (err) {
      throw new UsageError(`bundle join: --output ${out}: cannot write there (${(err as Error).message})`);
    }
    const r = await joinParts(src, out);
    io.stdout.write(`wrote ${out} (${src.parts.length} parts, ${formatBytes(r.size)}, sha256 ${r.sha256})\n`);
    return 0;
  },
};
