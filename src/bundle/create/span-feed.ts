// The spans of a layer that its download has finished writing into the
// layer's .partial, for the tar writer to copy in before the layer is
// complete (tar.ts): the copy of the last layers overlaps their download
// instead of following it. A restart (the store started the blob over as one
// stream) voids the spans that came before it.
import type { Extent } from '../store/extents.ts';

export class SpanFeed {
  #spans: Extent[] = [];
  #generation = 0;
  readonly #listeners = new Set<(s: Extent) => void>();

  /** bytes [start, end) are in the partial (store FetchOptions.onExtent) */
  readonly add = (start: number, end: number): void => {
    const s: Extent = [start, end];
    this.#spans.push(s);
    for (const l of this.#listeners) l(s);
  };

  /** the spans so far may be rewritten (store FetchOptions.onRestart) */
  readonly restart = (): void => {
    this.#spans = [];
    this.#generation++;
  };

  /** Changes with each restart: spans followed under an older generation are void. */
  get generation(): number {
    return this.#generation;
  }

  /** Calls `fn` for every span so far and each one to come, until the returned stop is called. */
  follow(fn: (s: Extent) => void): () => void {
    for (const s of this.#spans) fn(s);
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
