// Puts blobs into repositories of the site registry. Each unique blob is
// uploaded once, in `concurrency` upload slots; every other repository that
// needs it mounts it from there once it is in, waiting outside the slots
// (a wait inside one would hold an upload slot idle). Existence checks,
// mounts and manifests are small requests with slots of their own, so
// uploads never wait behind them.
import pLimit from 'p-limit';
import { OperationError, errorMessage } from '../../errors.ts';
import type { Descriptor } from '../inspect/layout.ts';
import { blobExists, manifestDigest, mountBlob, putManifest, uploadBlob, type BlobSource, type PushSession } from '../../oci/registry/push.ts';
import { transientFailure, withRetries } from '../../oci/registry/retry.ts';
import type { InstallCounts } from './install.ts';

interface PlacementProgress {
  uploading(d: Descriptor): void;
  notUploaded(d: Descriptor): void;
  blobDone(): void;
}

export class BlobPlacer {
  readonly #session: PushSession;
  readonly #log: (line: string) => void;
  readonly #summary: InstallCounts;
  readonly #progress: PlacementProgress;
  readonly #uploads: ReturnType<typeof pLimit>;
  readonly #small: ReturnType<typeof pLimit>;
  /** digest -> a repository that holds it (settled once its upload finished), for mounts */
  readonly #holders: Map<string, Promise<string | undefined>>;

  /** `held`: blobs the registry already holds, and a repository each is in. */
  constructor(session: PushSession, opts: { concurrency?: number; log(line: string): void }, summary: InstallCounts, progress: PlacementProgress, held?: Map<string, string>) {
    this.#session = session;
    this.#log = opts.log;
    this.#summary = summary;
    this.#progress = progress;
    this.#uploads = pLimit(opts.concurrency ?? 8);
    this.#small = pLimit(opts.concurrency ?? 8);
    this.#holders = new Map([...(held ?? [])].map(([d, repo]) => [d, Promise.resolve(repo)]));
  }

  /** Puts blob `d` into `repository`: the first placement of a digest uploads it, the others mount it from there. */
  async place(repository: string, d: Descriptor, source: () => BlobSource): Promise<void> {
    const claimed = this.#holders.get(d.digest);
    let settle: ((repo: string | undefined) => void) | undefined;
    if (!claimed) this.#holders.set(d.digest, new Promise((r) => (settle = r)));
    try {
      const from = claimed ? await claimed : undefined;
      if (from === repository) {
        // Another image of this run already put it into this repository (two tags of one image).
        this.#summary.blobsSkipped++;
        return;
      }
      const got = await this.#small(async (): Promise<'there' | 'mounted' | { location?: string }> => {
        if (await blobExists(this.#session, repository, d.digest)) return 'there';
        if (!from) return {};
        const m = await mountBlob(this.#session, repository, d.digest, from);
        return m.mounted ? 'mounted' : { location: m.location }; // (a registry that will not mount opens an upload instead)
      });
      if (got === 'there' || got === 'mounted') {
        if (got === 'mounted') this.#summary.blobsMounted++;
        else this.#summary.blobsSkipped++;
        this.#progress.notUploaded(d);
      } else await this.#upload(repository, d, source(), got.location);
      settle?.(repository);
    } catch (err) {
      settle?.(undefined);
      // A dropped connection names only the upload URL: say which blob it was.
      if (!errorMessage(err).includes(d.digest)) throw new OperationError(`blob ${d.digest}: ${errorMessage(err)}`, { cause: err });
      throw err;
    } finally {
      this.#progress.blobDone();
    }
  }

  /** Pushes a manifest under `reference` unless the registry serves that digest there already. */
  manifest(repository: string, reference: string, mediaType: string, bytes: Buffer, digest: string): Promise<void> {
    return this.#small(async () => {
      if ((await manifestDigest(this.#session, repository, reference)) === digest) {
        this.#summary.manifestsSkipped++;
        return;
      }
      await withRetries(() => putManifest(this.#session, repository, reference, mediaType, bytes, digest), { classify: transientFailure });
      this.#summary.manifestsPushed++;
    });
  }

  async #upload(repository: string, d: Descriptor, src: BlobSource, location?: string): Promise<void> {
    this.#progress.uploading(d);
    let loc = location;
    await this.#uploads(() =>
      withRetries(() => uploadBlob(this.#session, repository, d.digest, src, loc), {
        classify: transientFailure,
        onRetry: (n) => {
          loc = undefined; // a retry starts a fresh upload session
          this.#log(`  retrying upload of ${d.digest} to ${repository} (attempt ${n})`);
        },
      }),
    );
    this.#summary.blobsPushed++;
    this.#summary.bytesPushed += src.size;
  }
}
