// Small text helpers for bundle verify/inspect/install output (sizes: progress.ts formatBytes).
export { formatBytes } from '../create/progress.ts';

/** sha256:abcdef… shortened for tables. */
export function shortDigest(d: string): string {
  return d.startsWith('sha256:') ? `sha256:${d.slice(7, 19)}` : d;
}

/**
 * A one-line progress display on a terminal (redrawn at most 10 times a
 * second); silent when the stream is not a terminal.
 */
export function progressLine(stream: NodeJS.WritableStream & { isTTY?: boolean }): { update(text: string): void; done(): void } {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[2K${text}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}

/** '1 file', '3 files'; `many` for irregular plurals ('entries'). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A file mode as octal digits: 493 (0o755) -> '0755'. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
