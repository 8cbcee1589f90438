// SHA256SUMS as `sha256sum` writes and `sha256sum -c` reads it:
// "<64 hex><space><space or *><path>" per line. Pure.

export interface Sha256Sums {
  /** path -> lower-case hex digest */
  sums: Map<string, string>;
  /** unreadable lines, each naming its line number */
  problems: string[];
}

export function parseSha256Sums(text: string, file = 'SHA256SUMS'): Sha256Sums {
  const sums = new Map<string, string>();
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '') return;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) {
      problems.push(`${file}:${i + 1}: expected '<sha256 hex>  <path>', got '${line.slice(0, 120)}'`);
      return;
    }
    const path = m[2]!.replace(/^\.\//, '');
    if (sums.has(path)) problems.push(`${file}:${i + 1}: '${path}' is listed twice`);
    sums.set(path, m[1]!.toLowerCase());
  });
  return { sums, problems };
}

/** The digest a `FILE.sha256` sidecar holds (its first word), or undefined when it holds none. */
export function parseSidecar(text: string): string | undefined {
  const m = /^\s*([0-9a-fA-F]{64})(\s|$)/.exec(text);
  return m ? m[1]!.toLowerCase() : undefined;
}
