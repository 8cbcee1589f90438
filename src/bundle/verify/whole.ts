// bundle verify's checks of the tar as a whole, beside the entry walk: the
// NAME.tar.sha256 sidecar, each part of a split bundle against
// NAME.tar.parts.json, and the signature NAME.tar.sig (when required). One
// worker reads the bytes once for all of them (hash.ts).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { errorMessage, OperationError } from '../../errors.ts';
import type { BundleSource } from '../../archive/source.ts';
import { judgeSignature, readSignature, signatureFileFor, type SignerPolicy } from '../sign/bundle-signature.ts';
import { hashFilesInWorker } from './hash.ts';
import { parseSidecar } from './sums.ts';

export interface WholeResult {
  sidecar: { status: 'ok' | 'mismatch' | 'absent' | 'unreadable'; expected?: string; actual?: string };
  signature?: { file: string; ok: boolean; message: string };
}

export interface WholeChecks {
  /** waits for the hashes and adds what they find; `sidecarMismatch` is reported by the caller, who knows more */
  finish(problem: (path: string, message: string) => void): Promise<WholeResult & { sidecarMismatch?: { path: string; message: string } }>;
  cancel(): void;
}

async function readSidecar(file: string, problem: (path: string, message: string) => void): Promise<{ hex?: string; status: WholeResult['sidecar']['status'] }> {
  try {
    const hex = parseSidecar(await readFile(file, 'utf8'));
    if (!hex) problem(file, 'holds no sha256 digest');
    return hex ? { hex, status: 'absent' } : { status: 'unreadable' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'absent' };
    problem(file, `cannot read (${errorMessage(err)})`);
    return { status: 'unreadable' };
  }
}

/** Starts the whole-tar hashes; problems found before any byte is read go to `early`. */
export async function startWholeChecks(src: BundleSource, signers: SignerPolicy | undefined, early: (path: string, message: string) => void): Promise<WholeChecks> {
  const sidecarFile = `${src.tarName}.sha256`;
  const side = await readSidecar(sidecarFile, early);
  // A split bundle's parts file gives the whole tar's digest too: both must hold.
  if (side.hex && src.sha256 && side.hex !== src.sha256) early(sidecarFile, `says ${side.hex}, ${basename(src.partsFile!)} says ${src.sha256}`);
  const expected = side.hex ?? src.sha256;
  const sigFile = signatureFileFor(src.tarName);
  const sigRead = signers ? await readSignature(sigFile) : undefined;
  const sigAlg = sigRead && 'sig' in sigRead ? sigRead.sig.hashAlgorithm : undefined;
  const algorithms = [...new Set([...(expected || src.split ? ['sha256'] : []), ...(sigAlg ? [sigAlg] : [])])];
  // Started now, runs beside the walk; errors surface when awaited.
  const hashing = algorithms.length ? hashFilesInWorker(src.parts.map((p) => p.file), algorithms) : undefined;
  return {
    cancel: () => hashing?.cancel(),
    async finish(problem) {
      const out: Awaited<ReturnType<WholeChecks['finish']>> = { sidecar: { status: side.status } };
      if (sigRead && 'problem' in sigRead) {
        // Fails closed before any hash: no signature, or one that cannot be read.
        out.signature = { file: sigFile, ok: false, message: sigRead.problem };
        problem(sigFile, sigRead.problem);
      }
      if (!hashing) return out;
      let got;
      try {
        got = await hashing.result;
      } catch (err) {
        throw new OperationError(`${src.tarName}: cannot hash the whole file (${errorMessage(err)})`);
      }
      for (const [i, p] of src.parts.entries()) {
        if (p.sha256 && got.parts[i] !== p.sha256) problem(p.file, `sha256 mismatch: ${basename(src.partsFile!)} says ${p.sha256}, the part is ${got.parts[i]} (a damaged copy: copy this part again)`);
      }
      if (sigRead && 'sig' in sigRead && signers) {
        const verdict = judgeSignature(sigRead.sig, got.digests[sigRead.sig.hashAlgorithm]!, signers);
        out.signature = { file: sigFile, ok: verdict.ok, message: verdict.message };
        if (!verdict.ok) problem(sigFile, verdict.message);
      }
      if (expected) {
        const actual = got.digests.sha256!;
        out.sidecar = { status: actual === expected ? 'ok' : 'mismatch', expected, actual };
        if (actual !== expected) out.sidecarMismatch = { path: side.hex ? sidecarFile : src.partsFile!, message: `the tar's sha256 is ${actual}, ${side.hex ? 'the sidecar' : basename(src.partsFile!)} says ${expected}` };
      }
      return out;
    },
  };
}
