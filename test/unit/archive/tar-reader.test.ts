// The tar reader: path and entry-type safety (pure), reading and extracting one entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEntryPath, entryTypeProblem, readEntry, stageEntry, type TarInput, type TarEntry } from '../../../src/archive/tar-reader.ts';

/** stageEntry then commit, as install does for every file it writes. */
async function extract(input: TarInput, entry: TarEntry, destDir: string, asPath?: string, expectSha256?: string): Promise<string> {
  const staged = await stageEntry(input, entry, destDir, asPath, expectSha256);
  await staged.commit();
  return staged.dest;
}
import { walkTar } from '../../../src/archive/tar-walk.ts';
import { rawTar } from '../../support/bundle-fixture.ts';

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


test('readEntry reads one entry at its offsets, and refuses one larger than expected', async () => {
  const f = put(rawTar([{ path: 'a', data: 'first' }, { path: 'b', data: Buffer.alloc(2000, 9) }]));
  const { entries } = await walkTar(f);
  assert.equal((await readEntry(f, entries[0]!)).toString(), 'first');
  assert.ok((await readEntry(f, entries[1]!)).equals(Buffer.alloc(2000, 9)));
  await assert.rejects(readEntry(f, entries[1]!, 1000), /entry 'b' is 2000 bytes, more than the 1000 expected/);
});

test('stageEntry writes only below its directory, through a temp name', async () => {
  const f = put(rawTar([{ path: 'charts/a-1.tgz', data: 'chart' }]));
  const { entries } = await walkTar(f);
  const out = join(dir, 'out');
  mkdirSync(out);
  const dest = await extract(f, entries[0]!, out);
  assert.equal(readFileSync(dest, 'utf8'), 'chart');
  assert.deepEqual(readdirSync(join(out, 'charts')), ['a-1.tgz']);
  await assert.rejects(extract(f, entries[0]!, out, '../escape'), /'\.\.' component/);
  // A symlink already inside the destination must not carry a write outside it.
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  symlinkSync(outside, join(out, 'link'));
  await assert.rejects(extract(f, entries[0]!, out, 'link/x.tgz'), /outside/);
  assert.equal(existsSync(join(outside, 'x.tgz')), false);
});

test('stageEntry refuses an entry that changed since it was verified', async () => {
  const f = put(rawTar([{ path: 'charts/a-1.tgz', data: 'chart' }]));
  const { entries } = await walkTar(f);
  const out = join(dir, 'out-changed');
  mkdirSync(out);
  await assert.rejects(extract(f, entries[0]!, out, undefined, 'f'.repeat(64)), /changed since it was verified/);
  assert.deepEqual(readdirSync(out).filter((n) => n !== 'charts'), []);
  assert.deepEqual(readdirSync(join(out, 'charts')), [], 'no file under the final name, no temp file');
});
