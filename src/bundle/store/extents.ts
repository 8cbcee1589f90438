// Which bytes of a blob's .partial are really there. A single-stream download
// writes a prefix, so its length says it all; a download in byte ranges
// (ranged-fetch.ts) writes pieces anywhere, so it keeps <partial>.extents, a
// small JSON record of the spans written. A partial with that record is
// trusted only for the spans it lists; one without it, for its length.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

/** [start, end): bytes start to end-1 */
export type Extent = [number, number];

export const extentsFile = (partial: string) => `${partial}.extents`;

/** Adds [start, end) to sorted, disjoint `list` (merging what touches); returns the new list. */
export function addExtent(list: readonly Extent[], start: number, end: number): Extent[] {
  if (end <= start) return [...list];
  const out: Extent[] = [];
  let s = start;
  let e = end;
  for (const [a, b] of list) {
    if (b < s || a > e) out.push([a, b]);
    else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  out.push([s, e]);
  return out.sort((x, y) => x[0] - y[0]);
}

/** The spans of [0, size) that `list` does not cover. */
export function missingExtents(list: readonly Extent[], size: number): Extent[] {
  const out: Extent[] = [];
  let pos = 0;
  for (const [a, b] of list) {
    if (a > pos) out.push([pos, Math.min(a, size)]);
    pos = Math.max(pos, b);
  }
  if (pos < size) out.push([pos, size]);
  return out.filter(([a, b]) => b > a);
}

/** Where the covered run that holds `pos` ends (`pos` itself when it is not covered). */
export function coveredEnd(list: readonly Extent[], pos: number): number {
  for (const [a, b] of list) if (a <= pos && pos < b) return b;
  return pos;
}

/** The record for `partial` of a `size`-byte blob, or undefined when there is none (or it is not for this size). */
export async function readExtents(partial: string, size: number): Promise<Extent[] | undefined> {
  let text: string;
  try {
    text = await readFile(extentsFile(partial), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const j = JSON.parse(text) as { size?: unknown; extents?: unknown };
    if (j.size !== size || !Array.isArray(j.extents)) return [];
    let list: Extent[] = [];
    for (const x of j.extents) {
      if (Array.isArray(x) && Number.isSafeInteger(x[0]) && Number.isSafeInteger(x[1]) && x[0] >= 0 && x[1] <= size) list = addExtent(list, x[0], x[1]);
    }
    return list;
  } catch {
    return []; // a torn record: trust nothing of the partial
  }
}

/**
 * Writes the record whole (temp name, rename), so a crash leaves the old one or the new one.
 * The temp name is fixed: one left by a killed run is taken over by the next write.
 */
export async function writeExtents(partial: string, size: number, list: readonly Extent[]): Promise<void> {
  const file = extentsFile(partial);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify({ size, extents: list }));
  await rename(tmp, file);
}

export const removeExtents = async (partial: string) => {
  await rm(extentsFile(partial), { force: true });
  await rm(`${extentsFile(partial)}.tmp`, { force: true });
};
