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

/** Progress hooks: a file's size is known once its server answers (Content-Length), if it says. */
export interface FileProgress {
  /** the bytes still to come, when the first answer says */
  onLength(n: number): void;
  /** bytes as they arrive; `announced`: onLength counted them */
  onBytes(n: number, announced: boolean): void;
}

export async function fetchFile(f: FileSource, http: HttpSource, store: ContentStore, progress?: FileProgress, signal?: AbortSignal): Promise<FetchedFile> {
  const digest = `sha256:${f.sha256}`;
  let announced = false;
  const hooks = progress
    ? { onLength: (n: number) => ((announced = true), progress.onLength(n)), onBytes: (n: number) => progress.onBytes(n, announced) }
    : {};
  const r = await store.fetch(digest, undefined, (offset) => http.open(f.url, offset, `file ${f.name}`, signal), { what: `file ${f.name} (${f.url})`, ...hooks, ...(signal ? { signal } : {}) });
  return { name: f.name, digest, size: r.size, url: f.url, mode: f.mode ?? 0o644 };
}
