// Platform selection for multi-platform images. Pure.
// A wanted 'linux/arm64' matches any variant of linux/arm64; 'linux/arm/v7'
// only that variant. 'all' keeps a whole index. Index entries that are not
// runnable images (attestations: unknown/unknown) never match.

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  return variant ? { os: os!, architecture: architecture!, variant } : { os: os!, architecture: architecture! };
}

export function wantsAll(wanted: readonly string[]): boolean {
  return wanted.includes('all');
}

export function platformMatches(have: Platform | undefined, wanted: string): boolean {
  if (!have || have.os === 'unknown' || have.architecture === 'unknown') return false;
  const w = parsePlatform(wanted);
  if (w.os !== have.os || w.architecture !== have.architecture) return false;
  return w.variant === undefined || w.variant === have.variant;
}

/** The entries of an index to keep, in index order. */
export function selectPlatforms<T extends { platform?: Platform }>(entries: T[], wanted: readonly string[]): T[] {
  if (wantsAll(wanted)) return entries;
  return entries.filter((e) => wanted.some((w) => platformMatches(e.platform, w)));
}
