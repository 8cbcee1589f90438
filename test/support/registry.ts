// Real distribution registries (Debian `docker-registry`) for tests, on free loopback ports.
//
//   const reg = await startRegistry();                                  // plain HTTP, no auth
//   const reg = await startRegistry({ tls: pki });                      // HTTPS, cert from test/support/pki.ts
//   const reg = await startRegistry({ tls: pki, auth: 'htpasswd' });    // HTTPS + Basic (user/pass below)
//   const reg = await startRegistry({ auth: 'token' });                 // Bearer tokens from an issuer this module runs
//   reg.url      'http://127.0.0.1:PORT' or 'https://127.0.0.1:PORT'
//   reg.host     '127.0.0.1:PORT' (what goes in an image reference)
//   reg.caFile   the CA file when TLS (else undefined)
//   reg.username / reg.password   when auth is set (default 'tester' / 'secret-pw')
//   reg.tokenRequests()           how many tokens the issuer handed out (token auth)
//   await reg.stop()              kills the registry (and issuer), removes its storage
//
//   const proxy = await startCountingProxy(reg.url, { bytesPerSecond, ignoreRanges })  // reverse proxy in front of a
//   proxy.url / proxy.host / proxy.requests (method, path, status, range) / proxy.blobGets(digest?)
//   proxy.setBytesPerSecond(n | undefined) / proxy.setIgnoreRanges(bool | 'whole') / proxy.stop()
//   It counts what a client really fetched and can throttle, so a test can kill a download mid-way;
//   ignoring ranges, it drops the client's Range header, so the registry answers 200 with the whole blob;
//   'whole' turns only a range that covers the whole blob into a 200 (as HTTP lets a server do).
import { createSign, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startProcess, waitForPort } from './process.ts';
import { createPki, type Pki } from './pki.ts';

export interface RegistryOptions {
  /** serve HTTPS with a certificate issued by this test CA */
  tls?: Pki;
  /** 'htpasswd' (Basic) or 'token' (Bearer, issuer run here; Basic-checked user at the issuer) */
  auth?: 'htpasswd' | 'token';
  username?: string;
  password?: string;
}

export interface TestRegistry {
  url: string;
  host: string;
  port: number;
  /** the registry process (kill -STOP it to make the registry unreachable) */
  pid: number;
  caFile?: string;
  username?: string;
  password?: string;
  dir: string;
  tokenRequests(): number;
  output(): string;
  stop(): Promise<void>;
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'ac-reg-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const username = opts.auth ? (opts.username ?? 'tester') : undefined;
  const password = opts.auth ? (opts.password ?? 'secret-pw') : undefined;
  const lines = [
    'version: 0.1',
    'log: {level: error, accesslog: {disabled: true}}',
    'storage:',
    `  filesystem: {rootdirectory: ${join(dir, 'data')}}`,
    '  delete: {enabled: true}',
    'http:',
    `  addr: ${host}`,
  ];
  if (opts.tls) {
    const c = opts.tls.issue(`registry-${port}`);
    lines.push(`  tls: {certificate: ${c.cert}, key: ${c.key}}`);
  }
  let issuer: { server: HttpServer; count: () => number } | undefined;
  if (opts.auth === 'htpasswd') {
    const hp = join(dir, 'htpasswd');
    writeFileSync(hp, execFileSync('htpasswd', ['-Bbn', username!, password!], { encoding: 'utf8' }));
    lines.push('auth:', `  htpasswd: {realm: test-registry, path: ${hp}}`);
  } else if (opts.auth === 'token') {
    // The issuer signs with a leaf cert of its own CA; the registry trusts that CA.
    const pki = opts.tls ?? createPki(mkdtempSync(join(dir, 'pki-')));
    const signer = pki.issue(`token-signer-${port}`, { san: 'DNS:token-issuer' });
    const issuerPort = await freePort();
    issuer = await startTokenIssuer(issuerPort, signer, username!, password!);
    lines.push(
      'auth:',
      '  token:',
      `    realm: http://127.0.0.1:${issuerPort}/token`,
      '    service: test-registry',
      '    issuer: test-issuer',
      `    rootcertbundle: ${pki.caCert}`,
    );
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, lines.join('\n') + '\n');
  const proc = startProcess(['docker-registry', 'serve', config]);
  try {
    await waitForPort('127.0.0.1', port, 10_000, proc.child);
  } catch (err) {
    await proc.stop();
    issuer?.server.close();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  }
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}`,
    host,
    port,
    pid: proc.child.pid!,
    caFile: opts.tls?.caCert,
    username,
    password,
    dir,
    tokenRequests: () => issuer?.count() ?? 0,
    output: proc.output,
    async stop() {
      await proc.stop();
      issuer?.server.closeAllConnections();
      issuer?.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A tiny token service (the Docker token auth flow): Basic-checks the user, grants the asked scopes. */
async function startTokenIssuer(port: number, signer: { cert: string; key: string }, username: string, password: string): Promise<{ server: HttpServer; count: () => number }> {
  const der = new X509Certificate(readFileSync(signer.cert)).raw;
  const key = readFileSync(signer.key);
  let count = 0;
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    const expected = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    if (auth !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    count++;
    const access = u.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean).map((s) => {
      const parts = s.split(':');
      const actions = parts.pop()!.split(',');
      const type = parts.shift()!;
      return { type, name: parts.join(':'), actions };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
    const claims = { iss: 'test-issuer', sub: username, aud: u.searchParams.get('service') ?? '', exp: now + 300, nbf: now - 10, iat: now, jti: `t${count}-${now}`, access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    const token = `${input}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, count: () => count };
}

export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  range?: string;
}

export interface CountingProxy {
  url: string;
  host: string;
  requests: ProxiedRequest[];
  /** GETs of blobs (optionally one digest) that the registry answered with 200 or 206 */
  blobGets(digest?: string): ProxiedRequest[];
  /** change (or with undefined, lift) the throttle for responses that start from now on */
  setBytesPerSecond(n: number | undefined): void;
  /**
   * from now on, pass requests on without their Range header (a front that ignores ranges);
   * 'whole': answer a range that covers the whole blob with a plain 200
   */
  setIgnoreRanges(on: boolean | 'whole'): void;
  stop(): Promise<void>;
}

/**
 * A plain-HTTP reverse proxy in front of a plain-HTTP registry that records
 * every request (the Range as the client sent it), can throttle response
 * bodies (bytes per second), and can drop Range headers.
 */
export async function startCountingProxy(targetUrl: string, opts: { bytesPerSecond?: number; ignoreRanges?: boolean | 'whole' } = {}): Promise<CountingProxy> {
  const target = new URL(targetUrl);
  if (target.protocol !== 'http:') throw new Error('counting proxy fronts plain-HTTP registries only');
  const requests: ProxiedRequest[] = [];
  let rate = opts.bytesPerSecond;
  let ignoreRanges: boolean | 'whole' = opts.ignoreRanges ?? false;
  const server = createServer((req, res) => {
    const entry: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0, range: req.headers.range };
    requests.push(entry);
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target.host };
    if (ignoreRanges === true) {
      delete headers.range;
      delete headers['if-range'];
    }
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      async (upRes) => {
        const whole = /^bytes 0-(\d+)\/(\d+)$/.exec(String(upRes.headers['content-range'] ?? ''));
        if (ignoreRanges === 'whole' && upRes.statusCode === 206 && whole && Number(whole[1]) + 1 === Number(whole[2])) {
          upRes.statusCode = 200;
          delete upRes.headers['content-range'];
        }
        entry.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        const bytesPerSecond = rate;
        if (!bytesPerSecond) {
          upRes.pipe(res);
          return;
        }
        // Throttle: 10 slices a second.
        const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
        try {
          for await (const chunk of upRes as AsyncIterable<Buffer>) {
            for (let off = 0; off < chunk.length; off += slice) {
              if (res.destroyed) return;
              if (!res.write(chunk.subarray(off, off + slice))) await new Promise((r) => res.once('drain', r));
              await sleep(100);
            }
          }
          res.end();
        } catch {
          res.destroy();
        }
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    setBytesPerSecond: (n) => {
      rate = n;
    },
    setIgnoreRanges: (on) => {
      ignoreRanges = on;
    },
    blobGets: (digest) => requests.filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path) && (!digest || r.path.endsWith(digest)) && (r.status === 200 || r.status === 206)),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
