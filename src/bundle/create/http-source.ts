// Plain HTTP(S) downloads (Helm repositories, files) on the same transport as
// the registries: proxy env, CA settings, redirects, and the one retry policy
// (registry/retry.ts: 5xx/429 with Retry-After, dropped connections). Returns streams; nothing is buffered here except small
// documents the caller asks for as text.
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { OperationError } from '../../errors.ts';
import { retryingRequest } from '../../oci/registry/retry.ts';
import type { Transport } from '../../oci/registry/transport.ts';

export class HttpSource {
  readonly #transport: Transport;
  readonly #dispatchers = new Map<string, Dispatcher>();

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  #dispatcher(url: URL): Dispatcher {
    let d = this.#dispatchers.get(url.host);
    if (!d) {
      d = this.#transport.dispatcherFor(url.host, this.#transport.settingsFor(url.host));
      this.#dispatchers.set(url.host, d);
    }
    return d;
  }

  /** GET `url` from byte `offset` (Range); `partial` false means the body starts at 0. */
  async open(url: string, offset = 0, what = url, signal?: AbortSignal): Promise<{ body: Readable; partial: boolean; length?: number }> {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OperationError(`${what}: unsupported URL scheme ${u.protocol}`);
    let res: Dispatcher.ResponseData;
    try {
      res = await retryingRequest(() => request(u, { dispatcher: this.#dispatcher(u), signal, headers: { 'user-agent': 'astrago-check', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) } }), signal ? { signal } : {});
    } catch (err) {
      throw new OperationError(`${what}: ${(err as Error).message}`, { cause: err });
    }
    if (res.statusCode === 416 && offset > 0) {
      await res.body.dump();
      return this.open(url, 0, what, signal);
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      await res.body.dump();
      throw new OperationError(`${what}: HTTP ${res.statusCode} from ${u.origin}${u.pathname}`);
    }
    const len = res.headers['content-length'];
    return { body: res.body, partial: res.statusCode === 206, length: len === undefined ? undefined : Number(len) };
  }

  /** A small document (index.yaml) as text, capped so a wrong URL cannot fill memory. */
  async text(url: string, what = url, limit = 256 << 20): Promise<string> {
    const { body } = await this.open(url, 0, what);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of body as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > limit) {
        body.destroy();
        throw new OperationError(`${what}: larger than ${limit >> 20} MiB`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
