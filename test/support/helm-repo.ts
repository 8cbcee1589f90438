// Charts for tests: chart directories written here, and a static HTTP server
// (a Helm repository, or any file host) run in the test process.
//
//   const dir = makeChartDir(root, { name: 'demo', version: '1.2.3', values: { image: { repository: 'x/y', tag: '1' } } });
//   const pkg = await packageChart(dir)                 // from src/bundle/charts/package.ts: {data, fileName, metadata}
//   const srv = await startStaticServer(rootDir);       // serves files under rootDir, honours Range
//   srv.url / srv.requests (method, path, status, range) / await srv.stop()
//   writeHelmIndex(rootDir, [{ name, version, fileName, digest? }])   // index.yaml (digest optional, to test both)
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { stringify } from 'yaml';

export function makeChartDir(root: string, opts: { name: string; version: string; appVersion?: string; values?: unknown; extraFiles?: Record<string, string> }): string {
  const dir = join(root, opts.name);
  mkdirSync(join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, 'Chart.yaml'), stringify({ apiVersion: 'v2', name: opts.name, version: opts.version, appVersion: opts.appVersion ?? opts.version, description: `test chart ${opts.name}` }));
  writeFileSync(join(dir, 'values.yaml'), stringify(opts.values ?? {}));
  writeFileSync(join(dir, 'templates', 'configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata: {}\n');
  for (const [rel, text] of Object.entries(opts.extraFiles ?? {})) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

export function writeHelmIndex(root: string, charts: Array<{ name: string; version: string; fileName: string; digest?: string | false }>): void {
  const entries: Record<string, unknown[]> = {};
  for (const c of charts) {
    const digest = c.digest === false ? undefined : (c.digest ?? createHash('sha256').update(readFileSync(join(root, c.fileName))).digest('hex'));
    (entries[c.name] ??= []).push({ apiVersion: 'v2', name: c.name, version: c.version, urls: [c.fileName], created: '2024-01-01T00:00:00Z', ...(digest ? { digest } : {}) });
  }
  writeFileSync(join(root, 'index.yaml'), stringify({ apiVersion: 'v1', entries, generated: '2024-01-01T00:00:00Z' }));
}

export interface StaticRequest {
  method: string;
  path: string;
  status: number;
  range?: string;
}

export interface StaticServer {
  url: string;
  requests: StaticRequest[];
  stop(): Promise<void>;
}

export async function startStaticServer(root: string): Promise<StaticServer> {
  const requests: StaticRequest[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const entry: StaticRequest = { method: req.method ?? 'GET', path, status: 404, range: req.headers.range };
    requests.push(entry);
    const file = normalize(join(root, path));
    let size: number;
    try {
      if (!file.startsWith(root)) throw new Error('outside');
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && Number(m[1]) < size) {
      const start = Number(m[1]);
      entry.status = 206;
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}`, 'accept-ranges': 'bytes' });
      createReadStream(file, { start }).pipe(res);
      return;
    }
    entry.status = 200;
    res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
