import { basename } from 'node:path';
import { formatBytes, plural, progressLine } from '../../bundle/inspect/format.ts';
import { verifyBundle, type VerifyResult } from '../../bundle/verify/verify.ts';
import type { Command } from '../args.ts';
import { SIGNER_USAGE, signerOptions, signerPolicyFrom } from './signer-flags.ts';

export const bundleVerifyCommand: Command = {
  name: 'bundle verify',
  summary: 'verify every entry and blob of a bundle',
  usage: `Usage: astrago-check bundle verify FILE.tar|FILE.tar.000 [--allowed-signers FILE [--identity ID]]

Checks FILE.tar.sha256 (when present), every entry against SHA256SUMS and
bundle.yaml, every blob against its digest, and that every manifest's blobs are present.
A split bundle is read across its parts (FILE.tar.000 ... or FILE.tar.parts.json);
each part is checked against FILE.tar.parts.json, and a missing or extra part is named.
Exit 0 when intact, 1 when anything is wrong (each problem is named).

Options:
${SIGNER_USAGE}`,
  options: { ...signerOptions },
  positionals: [1, 1],
  async run(values, positionals, io) {
    const file = positionals[0]!;
    const signers = await signerPolicyFrom('bundle verify', values, io.cwd);
    const progress = progressLine(io.stderr);
    const result = await verifyBundle(file, {
      ...(signers ? { signers } : {}),
      onProgress: (b, t) => progress.update(`verifying ${file}: ${formatBytes(b)} / ${formatBytes(t)} (${t ? Math.floor((b / t) * 100) : 100}%)`),
    });
    progress.done();
    io.stdout.write(renderVerify(result));
    return result.problems.length ? 1 : 0;
  },
};

export function renderVerify(r: VerifyResult): string {
  const lines: string[] = [];
  const m = r.manifest;
  if (r.unopened) {
    // No counts or sidecar status: they would read as an empty bundle with no .sha256.
    lines.push(`bundle ${r.file}: not read (its parts on disk are not the ones it is made of)`);
    lines.push(`FAILED: ${plural(r.problems.length, 'problem')}:`);
    for (const p of r.problems) lines.push(`  - ${p.path}: ${p.message}`);
    lines.push('Copy a missing part again (its size and sha256 are in the .parts.json), move a stray one away, then verify again.');
    return lines.join('\n') + '\n';
  }
  lines.push(`bundle ${r.file} (${formatBytes(r.tarSize)})${m ? `: ${m.metadata.name} ${m.metadata.version}${m.metadata.createdBy ? `, made by ${m.metadata.createdBy}` : ''}` : ''}`);
  if (r.source.split) lines.push(`  ${'parts'.padEnd(20)} ${r.source.parts.length}${r.source.partsFile ? `, each checked against ${basename(r.source.partsFile)}` : ` (no ${basename(r.file)}.parts.json: parts not checked one by one)`}`);
  const sidecar = { ok: 'matches', mismatch: 'DOES NOT MATCH', absent: 'absent (not checked)', unreadable: 'unreadable' }[r.sidecar.status];
  lines.push(`  ${'tar sha256 sidecar'.padEnd(20)} ${sidecar}`);
  if (r.delta) {
    const n = r.delta.needs;
    lines.push(`  ${'delta of'.padEnd(20)} ${r.delta.base.name} ${r.delta.base.version} (bundle.yaml ${r.delta.base.manifestDigest})`);
    lines.push(`  ${'needs from the base'.padEnd(20)} ${plural(n.blobs.size, 'layer')} (${formatBytes(n.bytes)}), ${plural(n.charts.length, 'chart')}, ${plural(n.files.length, 'file')}: the registry must hold them (or give install --base)`);
  }
  if (r.signature) lines.push(`  ${'signature'.padEnd(20)} ${r.signature.ok ? r.signature.message : 'FAILED (see below)'}`);
  lines.push(`  ${'entries'.padEnd(20)} ${r.counts.entries} hashed`);
  lines.push(`  ${'charts'.padEnd(20)} ${r.counts.charts}`);
  lines.push(`  ${'images'.padEnd(20)} ${r.counts.images} (${r.counts.manifests} manifests, ${r.counts.blobs} blobs)`);
  lines.push(`  ${'files'.padEnd(20)} ${r.counts.files}`);
  if (r.problems.length === 0) {
    lines.push(r.delta ? 'OK: the delta bundle is intact (what it needs from its base is checked by install).' : 'OK: the bundle is intact.');
  } else {
    lines.push(`FAILED: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}:`);
    for (const p of r.problems) lines.push(`  - ${p.path}: ${p.message}`);
  }
  return lines.join('\n') + '\n';
}
