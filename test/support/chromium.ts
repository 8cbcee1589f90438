// Debian's chromium, headless, with its network pointed at a recording proxy on
// loopback: every request the browser makes (page or browser service) reaches
// the recorder, which answers 403, so nothing leaves the machine and the test
// sees what was asked for.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './temp.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** Hosts chromium itself calls (time, updates, accounts) whatever page it shows; none is the page's doing. */
const BROWSER_SERVICE = /^(?:[\w-]+\.)*(?:google\.com|googleapis\.com|gstatic\.com|gvt1\.com)(?::\d+)?$/;

export interface ChromiumRun {
  stdout: string;
  /** Request lines seen by the proxy, e.g. "GET http://leak.invalid/x HTTP/1.1", browser services left out. */
  pageRequests: string[];
}

/** Runs chromium headless on `url` with `args` (e.g. --dump-dom, --screenshot=F, --print-to-pdf=F). */
export async function runChromium(url: string, args: string[]): Promise<ChromiumRun> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((s) => {
    sockets.add(s);
    s.once('data', (d) => {
      requests.push(String(d).split('\r\n')[0]!);
      s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as { port: number }).port;
  const profile = join(tempDir('ac-chromium-'), 'profile');
  const argv = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, `--proxy-server=127.0.0.1:${port}`,
    // Loopback is never proxied by default; send it through the recorder too.
    '--proxy-bypass-list=<-loopback>',
    ...args, url,
  ];
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn(CHROMIUM, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`chromium exited ${code}:\n${err}`))));
    });
    const pageRequests = requests.filter((line) => {
      const target = line.split(' ')[1] ?? '';
      const host = target.startsWith('http') ? new URL(target).host : target;
      return !BROWSER_SERVICE.test(host);
    });
    return { stdout, pageRequests };
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => proxy.close(r));
  }
}

/** Elements of a serialized DOM that carry `attr`, with all their attributes (entities decoded). */
export function elementsWith(dom: string, attr: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of dom.matchAll(/<([a-zA-Z][\w-]*)(\s[^>]*)?>/g)) {
    const attrs: Record<string, string> = { '': m[1]! };
    for (const a of (m[2] ?? '').matchAll(/([^\s=/]+)(?:="([^"]*)")?/g)) attrs[a[1]!] = decode(a[2] ?? '');
    if (attr in attrs) out.push(attrs);
  }
  return out;
}

function decode(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: '\u00a0' })[e]!);
}
