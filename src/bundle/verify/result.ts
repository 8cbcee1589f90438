// What bundle verify looks for and what it finds: the entries it reads by
// name, and the shape of its result (shared by verify.ts and its steps).
import type { BundleSource } from '../../archive/source.ts';
import type { TarEntry } from '../../archive/tar-reader.ts';
import type { ImageTree } from '../inspect/layout.ts';
import type { BundleManifestView, DeltaBase } from '../inspect/manifest.ts';

export const MANIFEST_ENTRY = 'bundle.yaml';
export const SUMS_ENTRY = 'SHA256SUMS';
export const INDEX_ENTRY = 'images/index.json';
export const LAYOUT_ENTRY = 'images/oci-layout';

export interface VerifyProblem {
  /** the entry (or 'FILE.tar.sha256', or the image reference) the problem is about */
  path: string;
  message: string;
}

/** Adds a problem; problems are reported in the order they are found. */
export type Problem = (path: string, message: string) => void;

export interface EntryRecord {
  entry: TarEntry;
  sha256: string;
  size: number;
}

/** Entry path -> bytes, for the entries kept for the checks after the walk (bundle.yaml, SHA256SUMS, index.json, oci-layout, JSON blobs). */
export type KeptEntries = Map<string, Buffer>;

export interface VerifiedImage {
  ref: string;
  tree: ImageTree;
}

export interface VerifyResult {
  /** the tar's name (NAME.tar for a split bundle) */
  file: string;
  /** where its bytes are (one file, or the parts) */
  source: BundleSource;
  tarSize: number;
  sidecar: { status: 'ok' | 'mismatch' | 'absent' | 'unreadable'; expected?: string; actual?: string };
  /** present when a signature was required (--allowed-signers) */
  signature?: { file: string; ok: boolean; message: string };
  manifest?: BundleManifestView;
  records: Map<string, EntryRecord>;
  /** small JSON blobs by digest (manifests, indexes, configs) */
  jsonBlobs: Map<string, Buffer>;
  images: VerifiedImage[];
  /** a delta bundle: its base, and what of the base it needs (its own bytes are verified) */
  delta?: { base: DeltaBase; needs: { blobs: Map<string, number>; bytes: number; charts: string[]; files: string[] } };
  counts: { entries: number; blobs: number; manifests: number; charts: number; files: number; images: number };
  problems: VerifyProblem[];
  /** the bundle could not be opened (a split bundle with a part missing or extra): nothing was read */
  unopened?: true;
}
