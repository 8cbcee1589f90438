// The tar reader: path safety (pure) and the walker on crafted archives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEntryPath, entryTypeProblem, extractEntry, readEntry, TarFormatError, walkTar } from '../../../src/archive/tar-reader.ts';
import { rawTar } from '../../support/bundle-fixture.ts';
import { TarWriter } from '../../../src/archive/tar-writer.ts';
import { PassThrough } from 'node:stream';

const dir = mkdtempSync(join(tmpdir(), 'ac-tar-unit-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function put(buf: Buffer): string {
  const f = join(dir, `t${n++}.tar`);
  writeFileSync(f, buf);
  return f;
}

test('checkEntryPath normalizes safe paths', () => {
  assert.deepEqual(checkEntryPath('images/blobs/sha256/ab'), { path: 'images/blobs/sha256/ab' });
  assert.deepEqual(checkEntryPath('./charts/'), { path: 'charts' });
  assert.deepEqual(checkEntryPath('a//b/./c'), { path: 'a/b/c' });
  assert.deepEqual(checkEntryPath('a..b/c..'), { path: 'a..b/c..' });
});

test('checkEntryPath refuses escapes', () => {
  for (const [p, why] of [
    ['/etc/passwd', /absolute/],
    ['../x', /'\.\.'/],
    ['a/../../x', /'\.\.'/],
    ['a/..', /'\.\.'/],
    ['C:/x', /drive/],
    ['a\\..\\x', /backslash/],
    ['a\0b', /NUL/],
    ['x'.repeat(5000), /longer/],
  ] as const) {
    const r = checkEntryPath(p);
    assert.ok('problem' in r, `${p} should be refused`);
    assert.match(r.problem, why);
  }
});

test('entryTypeProblem accepts files and directories only', () => {
  assert.equal(entryTypeProblem('0'), undefined);
  assert.equal(entryTypeProblem('5'), undefined);
  assert.match(entryTypeProblem('2', '/etc')!, /symbolic link to '\/etc'/);
  assert.match(entryTypeProblem('1', 'x')!, /hard link/);
  assert.match(entryTypeProblem('3')!, /character device/);
  assert.match(entryTypeProblem('4')!, /block device/);
  assert.match(entryTypeProblem('6')!, /FIFO/);
  assert.match(entryTypeProblem('S')!, /unsupported/);
});

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

test('walkTar reads pax long paths (GNU tar --format=pax style)', async () => {
  // A pax 'x' record naming the next entry's path.
  const long = `files/${'p'.repeat(300)}`;
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const f = put(rawTar([{ path: 'PaxHeader/x', type: 'ExtendedHeader', data: rec('path', long), size: Buffer.byteLength(rec('path', long)) }, { path: 'short', data: 'ok' }]));
  const { entries } = await walkTar(f);
  assert.deepEqual(entries.map((e) => e.path), [long]);
});

const refusals: Array<[string, Buffer, RegExp]> = [
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

test('extractEntry writes only below its directory, through a temp name', async () => {
  const f = put(rawTar([{ path: 'charts/a-1.tgz', data: 'chart' }]));
  const { entries } = await walkTar(f);
  const out = join(dir, 'out');
  mkdirSync(out);
  const dest = await extractEntry(f, entries[0]!, out);
  assert.equal(readFileSync(dest, 'utf8'), 'chart');
  assert.deepEqual(readdirSync(join(out, 'charts')), ['a-1.tgz']);
  await assert.rejects(extractEntry(f, entries[0]!, out, '../escape'), /'\.\.' component/);
  // A symlink already inside the destination must not carry a write outside it.
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  symlinkSync(outside, join(out, 'link'));
  await assert.rejects(extractEntry(f, entries[0]!, out, 'link/x.tgz'), /outside/);
  assert.equal(existsSync(join(outside, 'x.tgz')), false);
});

test('extractEntry refuses an entry that changed since it was verified', async () => {
  const f = put(rawTar([{ path: 'charts/a-1.tgz', data: 'chart' }]));
  const { entries } = await walkTar(f);
  const out = join(dir, 'out-changed');
  mkdirSync(out);
  await assert.rejects(extractEntry(f, entries[0]!, out, undefined, 'f'.repeat(64)), /changed since it was verified/);
  assert.deepEqual(readdirSync(out).filter((n) => n !== 'charts'), []);
  assert.deepEqual(readdirSync(join(out, 'charts')), [], 'no file under the final name, no temp file');
});
