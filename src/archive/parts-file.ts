// The names of a split bundle's parts (NAME.tar.000, NAME.tar.001, ...) and
// its sidecar NAME.tar.parts.json (each part's size and sha256, the whole
// tar's size and sha256): reading it (errors name file and field), writing it
// (temp name, then rename), and sizes as users write them (4GiB, 700M).
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { errorMessage, InputError, UsageError } from '../errors.ts';
import { API_VERSION } from '../schema/common.ts';
import { bundlePartsSchema, type BundleParts } from '../schema/bundle-parts.ts';

export const PARTS_SUFFIX = '.parts.json';
/** NAME.tar.000 ... (three digits; a 1001st part simply gets four) */
export const PART_RE = /^(.+)\.(\d{3,})$/;

export function partName(tarName: string, index: number): string {
  return `${tarName}.${String(index).padStart(3, '0')}`;
}

export function partsFileFor(tarName: string): string {
  return `${tarName}${PARTS_SUFFIX}`;
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** 4GiB, 4G (= 4e9, as disks count), 700MiB, 1048576 (bytes); a part is at least one tar block. */
export function parseSize(cmd: string, flag: string, value: unknown): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?$/i.exec(String(value).trim());
  const n = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 512) throw new UsageError(`${cmd}: --${flag} expects a size of at least 512 bytes like 4GiB, 4000M or 700MiB (got '${String(value)}')`);
  return n;
}

export async function readPartsFile(file: string): Promise<BundleParts> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file, expected: code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? errorMessage(err)})` });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError({ file, expected: `a JSON BundleParts document (${errorMessage(err)})` });
  }
  const r = bundlePartsSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new InputError({ file, field: issue.path.join('.') || undefined, expected: issue.message });
  }
  for (const [i, p] of r.data.parts.entries()) {
    if (p.file !== basename(p.file) || p.file !== partName(r.data.tar, i)) throw new InputError({ file, field: `parts.${i}.file`, expected: `${partName(r.data.tar, i)} (parts lie beside the sidecar, numbered in order)` });
  }
  const sum = r.data.parts.reduce((n, p) => n + p.size, 0);
  if (sum !== r.data.size) throw new InputError({ file, field: 'size', expected: `the sum of the parts' sizes (${sum}; the file says ${r.data.size})` });
  return r.data;
}

export function partsDocument(tarName: string, size: number, sha256: string, partSize: number, parts: BundleParts['parts']): BundleParts {
  return { apiVersion: API_VERSION, kind: 'BundleParts', tar: basename(tarName), size, sha256, partSize, parts };
}

export async function writePartsFile(file: string, doc: BundleParts): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n');
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
