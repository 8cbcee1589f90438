import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { cyclonedxOf } from '../../bundle/inspect/cyclonedx.ts';
import { parseSidecar } from '../../bundle/verify/sums.ts';
import { stringify } from 'yaml';
import { formatBytes, formatMode, plural, shortDigest } from '../../bundle/inspect/format.ts';
import { inspectBundle, type BundleInspection } from '../../bundle/inspect/inspect.ts';
import { oneOf, type Command } from '../args.ts';

const FORMATS = ['tty', 'json', 'yaml', 'cyclonedx'] as const;

export const bundleInspectCommand: Command = {
  name: 'bundle inspect',
  summary: 'show what a bundle holds',
  usage: `Usage: astrago-check bundle inspect FILE.tar|FILE.tar.000 [--format tty|json|yaml|cyclonedx]

Lists the charts, images (platforms, digests, sizes), files and totals of a
bundle, and the spec it was made from, reading only its headers and manifests.
It does not verify content: run 'bundle verify' for that.
--format cyclonedx prints a CycloneDX 1.6 JSON BOM of the bundle (images as
pkg:oci/NAME@sha256:... with their original repository, charts, files, SHA-256s).`,
  options: { format: { type: 'string' } },
  positionals: [1, 1],
  async run(values, positionals, io) {
    const format = oneOf('bundle inspect', 'format', values.format, FORMATS) ?? 'tty';
    const r = await inspectBundle(positionals[0]!);
    if (format === 'cyclonedx') io.stdout.write(JSON.stringify(cyclonedxOf(r, await tarDigest(r.file)), null, 2) + '\n');
    else if (format === 'json') io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else if (format === 'yaml') io.stdout.write(stringify(r));
    else io.stdout.write(renderInspection(r));
    return 0;
  },
};

/** The tar's sha256 from FILE.tar.sha256 when it is there (inspect reads no layer to compute it). */
async function tarDigest(file: string): Promise<{ tarSha256?: string }> {
  try {
    const hex = parseSidecar(await readFile(`${file}.sha256`, 'utf8'));
    return hex ? { tarSha256: hex } : {};
  } catch {
    return {};
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => '  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The spec with its files' modes as the octal strings a spec may hold ("0755"), as people read them. */
function withOctalModes(spec: unknown): unknown {
  const files = (spec as { files?: Array<{ mode?: unknown }> } | null)?.files;
  if (!Array.isArray(files)) return spec;
  return { ...(spec as object), files: files.map((f) => (typeof f.mode === 'number' ? { ...f, mode: formatMode(f.mode) } : f)) };
}

export function renderInspection(r: BundleInspection): string {
  const out: string[] = [];
  const madeBy = r.bundle.tool ? `${r.bundle.tool.name} ${r.bundle.tool.version}` : r.bundle.createdBy;
  out.push(`Bundle ${r.bundle.name} ${r.bundle.version}${madeBy ? ` (made by ${madeBy})` : ''}`);
  out.push(`File: ${r.file} (${formatBytes(r.totals.tarSize)})`);
  if (r.parts) out.push(`Parts: ${r.parts.length} (${r.parts.map((p) => `${basename(p.file)} ${formatBytes(p.size)}`).join(', ')})`);
  out.push(`Platforms: ${r.platforms.join(', ') || '-'}`);
  if (r.delta) {
    const d = r.delta;
    out.push(`Delta of ${d.base.name} ${d.base.version} (bundle.yaml ${d.base.manifestDigest}): leaves out ${plural(d.omitted.layers, 'layer')}, ${plural(d.omitted.charts.length, 'chart')} and ${plural(d.omitted.files.length, 'file')} the base holds, ${formatBytes(d.savedBytes)} saved (the tar is ${formatBytes(r.totals.tarSize)}, the release about ${formatBytes(r.totals.tarSize + d.savedBytes)})`);
  }
  out.push('', `Charts (${r.charts.length})`);
  if (r.charts.length) out.push(...table([['NAME', 'VERSION', 'SIZE', 'DIGEST'], ...r.charts.map((c) => [c.name, c.version, formatBytes(c.size), shortDigest(c.digest)])]));
  out.push('', `Images (${r.images.length})`);
  if (r.images.length) {
    out.push(...table([['REFERENCE', 'PLATFORMS', 'SIZE', 'DIGEST'], ...r.images.map((i) => [i.ref, i.platforms.join(',') || '-', formatBytes(i.size), shortDigest(i.digest)])]));
    for (const i of r.images) for (const p of i.problems ?? []) out.push(`  ! ${i.ref}: ${p}`);
  }
  out.push('', `Files (${r.files.length})`);
  if (r.files.length) out.push(...table([['NAME', 'FILE', 'MODE', 'SIZE', 'DIGEST'], ...r.files.map((f) => [f.name, f.file, formatMode(f.mode), formatBytes(f.size), shortDigest(f.digest)])]));
  const t = r.totals;
  out.push('', `Totals: ${plural(t.charts, 'chart')}, ${plural(t.images, 'image')}, ${plural(t.files, 'file')}; ${plural(t.blobs, 'unique blob')} (${formatBytes(t.uniqueBlobBytes)}); tar ${formatBytes(t.tarSize)}`);
  if (r.spec !== undefined) {
    out.push('', 'Made from this spec:');
    out.push(...stringify(withOctalModes(r.spec)).trimEnd().split('\n').map((l) => `  ${l}`));
  }
  return out.join('\n') + '\n';
}
