// Extra files of a bundle (helm, helmfile, kubectl binaries...): URL + sha256,
// streamed into the content store and refused when the digest differs.
import type { FileSource } from '../../schema/bundle-spec.ts';
import type { HttpSource } from './http-source.ts';
import type { ContentStore } from '../store/store.ts';

export interface FetchedFile {
  name: string;
  digest: string;
  size: number;
  url: string;
  mode: number;
}

export async function fetchFile(f: FileSource, http: HttpSource, store: ContentStore, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<FetchedFile> {
  const digest = `sha256:${f.sha256}`;
  const r = await store.fetch(digest, undefined, (offset) => http.open(f.url, offset, `file ${f.name}`, signal), { what: `file ${f.name} (${f.url})`, ...(onBytes ? { onBytes } : {}), ...(signal ? { signal } : {}) });
  return { name: f.name, digest, size: r.size, url: f.url, mode: f.mode ?? 0o644 };
}
