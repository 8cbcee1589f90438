// The tar walker on crafted archives: entries, offsets and data; every byte
// seen in order; unsafe, garbled and truncated archives refused, naming the entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEntry, TarFormatError } from '../../../src/archive/tar-reader.ts';
import { walkTar } from '../../../src/archive/tar-walk.ts';
import { rawTar } from '../../support/bundle-fixture.ts';
import { TarWriter } from '../../../src/archive/tar-writer.ts';
import { PassThrough } from 'node:stream';
import { tempDir } from '../../support/temp.ts';

/** The crafted tar in a file of its own. */
function put(buf: Buffer): string {
  const f = join(tempDir('ac-tar-walk-'), 't.tar');
  writeFileSync(f, buf);
  return f;
}

test('walkTar lists entries with offsets and reads data', async () => {
  const f = put(rawTar([{ path: 'bundle.yaml', data: 'kind: x\n' }, { path: 'images/', type: 'Directory' }, { path: 'images/a', data: Buffer.alloc(1000, 7) }]));
  const seen: Record<string, Buffer[]> = {};
  const { entries } = await walkTar(f, {
    onEntry(e) {
      const chunks: Buffer[] = (seen[e.path] = []);
      return { write: (c) => chunks.push(Buffer.from(c)) }; // chunks are valid during the call only
    },
  });
  assert.deepEqual(entries.map((e) => [e.path, e.type, e.size]), [['bundle.yaml', 'file', 8], ['images', 'directory', 0], ['images/a', 'file', 1000]]);
  assert.equal(Buffer.concat(seen['bundle.yaml']!).toString(), 'kind: x\n');
  assert.deepEqual(Buffer.concat(seen['images/a']!), Buffer.alloc(1000, 7));
  assert.deepEqual(await readEntry(f, entries[2]!), Buffer.alloc(1000, 7));
});

test('walkTar reads what TarWriter writes, long names included', async () => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c) => chunks.push(c));
  const w = new TarWriter(out);
  const long = `files/${'d'.repeat(120)}/${'n'.repeat(90)}`;
  await w.addFile('bundle.yaml', 3, Buffer.from('a: '));
  await w.addDirectory('files');
  await w.addFile(long, 5, Buffer.from('hello'));
  await w.finish();
  const f = put(Buffer.concat(chunks));
  const { entries } = await walkTar(f);
  assert.deepEqual(entries.map((e) => e.path), ['bundle.yaml', 'files', long]);
  assert.equal((await readEntry(f, entries[2]!)).toString(), 'hello');
});

/** One pax record: '<length> <key>=<value>\n', the length counting itself. */
function rec(k: string, v: string): string {
  const body = ` ${k}=${v}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

test('walkTar reads pax long paths (GNU tar --format=pax style)', async () => {
  // A pax 'x' record naming the next entry's path.
  const long = `files/${'p'.repeat(300)}`;
  const f = put(rawTar([{ path: 'PaxHeader/x', type: 'ExtendedHeader', data: rec('path', long), size: Buffer.byteLength(rec('path', long)) }, { path: 'short', data: 'ok' }]));
  const { entries } = await walkTar(f);
  assert.deepEqual(entries.map((e) => e.path), [long]);
});

test('walkTar shows every byte of the file in order to onBytes, end-of-archive padding included, and reports progress to the end', async () => {
  const buf = Buffer.concat([rawTar([{ path: 'a', data: Buffer.alloc(3000, 1) }, { path: 'd/', type: 'Directory' }, { path: 'b', data: 'xy' }]), Buffer.alloc(4096)]);
  const f = put(buf);
  const bytes: Buffer[] = [];
  let last = 0;
  const { tarSize } = await walkTar(f, { onBytes: (c) => bytes.push(Buffer.from(c)), onProgress: (at) => (last = at) });
  assert.equal(tarSize, buf.length);
  assert.ok(Buffer.concat(bytes).equals(buf));
  assert.equal(last, buf.length);
});

const pax = rec('path', 'a');
const refusals: Array<[string, Buffer, RegExp]> = [
  ['extended header with no entry after it', rawTar([{ path: 'PaxHeader/a', type: 'ExtendedHeader', data: pax, size: pax.length }]), /extended header not followed by an entry/],
  ['oversized extended header', rawTar([{ path: 'PaxHeader/a', type: 'ExtendedHeader', data: Buffer.alloc((1 << 20) + 1, 0x20), size: (1 << 20) + 1 }, { path: 'a', data: 'x' }]), /oversized extended header \(1048577 bytes\)/],
  ['path traversal', rawTar([{ path: 'ok', data: 'x' }, { path: '../evil', data: 'x' }]), /entry '\.\.\/evil'.*'\.\.' component/],
  ['absolute path', rawTar([{ path: '/etc/evil', data: 'x' }]), /entry '\/etc\/evil'.*absolute/],
  ['symlink', rawTar([{ path: 'images/blobs', type: 'SymbolicLink', linkpath: '/etc' }]), /entry 'images\/blobs'.*symbolic link to '\/etc'/],
  ['hardlink', rawTar([{ path: 'files/passwd', type: 'Link', linkpath: '/etc/passwd' }]), /entry 'files\/passwd'.*hard link to '\/etc\/passwd'/],
  ['char device', rawTar([{ path: 'files/null', type: 'CharacterDevice' }]), /entry 'files\/null'.*character device/],
  ['fifo', rawTar([{ path: 'files/p', type: 'FIFO' }]), /FIFO/],
  ['no end marker', rawTar([{ path: 'a', data: 'x' }], { end: false }), /no end-of-archive marker after 'a'/],
  ['truncated data', rawTar([{ path: 'a', data: Buffer.alloc(5000) }]).subarray(0, 2048), /entry 'a'.*truncated archive: data needs 5000 bytes/],
  ['truncated header', rawTar([{ path: 'a', data: 'x' }, { path: 'b', data: 'y' }]).subarray(0, 1124), /truncated archive: a header needs 512/],
];
for (const [name, buf, re] of refusals) {
  test(`walkTar refuses: ${name}`, async () => {
    const f = put(buf);
    await assert.rejects(walkTar(f), (err: unknown) => {
      assert.ok(err instanceof TarFormatError, String(err));
      assert.match(err.message, re);
      return true;
    });
  });
}

test('walkTar refuses a garbled header, naming the entry before it', async () => {
  const buf = rawTar([{ path: 'bundle.yaml', data: 'x' }, { path: 'SHA256SUMS', data: 'y' }]);
  buf[1024 + 10] ^= 0x41; // inside the second header's name
  const f = put(buf);
  await assert.rejects(walkTar(f), /garbled header \(checksum mismatch\) after entry 'bundle.yaml'/);
});
