// Bundle tars for verify/install tests.
//
//   rawTar([{ path: '../x', data: 'hi' }, { path: 'l', type: 'SymbolicLink', linkpath: '/etc' }])
//     -> Buffer: a tar with exactly these headers (any type, any path; node-tar's Header
//        encodes them, nothing is normalized), for malicious-archive tests.
//   tarEntries(buf) / replaceTarEntries(...) help craft corrupted copies of a good bundle.
import { Header } from 'tar';

export interface RawEntry {
  path: string;
  /** node-tar type name: File, Directory, SymbolicLink, Link, CharacterDevice, BlockDevice, FIFO */
  type?: string;
  data?: Buffer | string;
  linkpath?: string;
  mode?: number;
  /** write this size in the header instead of the data's length */
  size?: number;
}

const pad = (n: number) => (512 - (n % 512)) % 512;

export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      type: type as 'File',
      size: e.size ?? (type === 'File' ? data.length : 0),
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      linkpath: e.linkpath,
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    parts.push(block, data, Buffer.alloc(pad(data.length)));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
