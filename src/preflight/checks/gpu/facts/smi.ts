// Runs `nvidia-smi -q -x` once per node (it takes seconds on a busy 8-GPU node, and
// five checks read it). Not in the SSH batch: nvidia-smi can hang on a GPU in a bad
// state, and the batch holds only reads that cannot.
import type { ProbeContext } from '../../../types.ts';
import { run } from '../../kernel/host-io.ts';
import { once } from './memo.ts';
import { parseSmiXml, type SmiReport } from './smi-xml.ts';

export type SmiFacts =
  /** nvidia-smi is not on the node's PATH */
  | { state: 'absent' }
  /** it ran and failed (no driver loaded, driver/library mismatch, ...) */
  | { state: 'failed'; error: string }
  /** it printed something that is not a whole nvidia-smi XML report */
  | { state: 'invalid'; error: string }
  | { state: 'ok'; report: SmiReport };

export const SMI_ARGV = ['nvidia-smi', '-q', '-x'];

export async function smiFactsOf(r: { code: number | null; stdout: string; stderr: string } | null): Promise<SmiFacts> {
  if (r === null) return { state: 'absent' };
  if (r.code !== 0) {
    // nvidia-smi prints its own errors on stdout.
    const first = (r.stdout.trim() || r.stderr.trim()).split('\n')[0] || `exit ${r.code ?? 'killed'}`;
    return { state: 'failed', error: r.code === null ? `${first} (killed: no answer in time)` : first };
  }
  try {
    return { state: 'ok', report: await parseSmiXml(r.stdout) };
  } catch (err) {
    return { state: 'invalid', error: (err as Error).message };
  }
}

export function readSmi(ctx: ProbeContext): Promise<SmiFacts> {
  return once(ctx.host, 'nvidia-smi -q -x', ctx.signal, async () => smiFactsOf(await run(ctx, SMI_ARGV, { sudo: false })));
}
