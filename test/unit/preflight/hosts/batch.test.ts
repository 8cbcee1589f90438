// The batch read (src/preflight/hosts/batch.ts): the script it builds is run by a real
// /bin/sh here, its output fed to the parser in chunks of every size, and each record
// must come back byte for byte: contents without a final newline, binary bytes, text
// that looks like a marker, missing and unreadable files, directories, globs, commands
// with stderr and exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { BatchParser, batchEntries, batchScript, globMatches, mergeGathers, type BatchRecord } from '../../../../src/preflight/hosts/batch.ts';
import { BatchCache } from '../../../../src/preflight/hosts/batch-cache.ts';
import type { Gather } from '../../../../src/preflight/types.ts';

let dir: string;
const NONCE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 10, 13, 0x80]);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ac-batch-'));
  writeFileSync(join(dir, 'plain'), 'one\ntwo\n');
  writeFileSync(join(dir, 'no-newline'), 'last line');
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'binary'), binary);
  writeFileSync(join(dir, 'fake-marker'), `x\n${NONCE.slice(0, 8)} 0 0 .\n\nnot a marker\n`);
  writeFileSync(join(dir, "it's quoted $(touch pwned)"), 'quoted');
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', 'b.conf'), 'B=2\n');
  writeFileSync(join(dir, 'd', 'a.conf'), 'A=1');
  writeFileSync(join(dir, 'd', '.hidden.conf'), 'H');
  writeFileSync(join(dir, 'd', 'other.txt'), 'no');
  mkdirSync(join(dir, 'd', 'sub.conf'));
  symlinkSync(join(dir, 'd'), join(dir, 'link-to-d'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// Both readers: bash's builtins, and head/ls under a plain POSIX sh (dash here).
const SHELLS = ['bash', 'sh'];

function runScript(script: string, shell = 'sh'): { stdout: Buffer; stderr: Buffer } {
  const r = spawnSync(shell, ['-c', script], { cwd: dir });
  return { stdout: r.stdout, stderr: r.stderr };
}

function parse(out: { stdout: Buffer; stderr: Buffer }, cuts: number[] = []): BatchRecord[] {
  const got: BatchRecord[] = [];
  const p = new BatchParser(NONCE, (r) => got.push(r));
  // Interleave the two streams in pieces, as SSH packets would arrive.
  const pieces = (b: Buffer) => {
    const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
    const out: Buffer[] = [];
    let from = 0;
    for (const c of [...at, b.length]) {
      out.push(b.subarray(from, c));
      from = c;
    }
    return out;
  };
  const o = pieces(out.stdout);
  const e = pieces(out.stderr);
  for (let i = 0; i < Math.max(o.length, e.length); i++) {
    if (o[i]) p.stdout(o[i]!);
    if (e[i]) p.stderr(e[i]!);
  }
  return got;
}

const gather = (): Gather => ({
  files: ['plain', 'no-newline', 'empty', 'binary', 'fake-marker', 'missing', 'd', "it's quoted $(touch pwned)"].map((f) => join(dir, f)),
  dirs: [join(dir, 'd'), join(dir, 'link-to-d'), join(dir, 'plain'), join(dir, 'nope')],
  globs: [join(dir, 'd', '*.conf'), join(dir, 'none', '*.conf')],
  statFs: [join(dir, 'not', 'yet', 'there')],
  commands: [
    ['sh', '-c', 'printf out; printf err >&2; exit 3'],
    ['no-such-command-ac'],
    ['printf', '%s', 'a b'],
    { argv: ['id', '-u'], onlyIfRoot: true },
    { argv: ['echo', 'absent'], onlyIfExists: '/nonexistent-ac' },
    { argv: ['echo', 'present'], onlyIfExists: '/' },
  ],
});

for (const shell of SHELLS) test(`every kind of entry comes back byte for byte, whatever the chunking (${shell})`, () => {
  const entries = batchEntries(gather(), { uid: true });
  const script = batchScript(entries, NONCE);
  const out = runScript(script, shell);
  const check = (records: BatchRecord[]) => {
    const byIdx = (i: number) => records.filter((r) => r.idx === i && r.name === undefined);
    const one = (i: number) => {
      const rs = byIdx(i);
      assert.equal(rs.length, 1, `entry ${i} (${JSON.stringify(entries[i])}) answered ${rs.length} times`);
      return rs[0]!;
    };
    const idx = (pred: (e: (typeof entries)[number]) => boolean) => entries.findIndex(pred);
    const file = (f: string) => one(idx((e) => e.kind === 'file' && e.path === join(dir, f)));
    assert.equal(one(idx((e) => e.kind === 'uid')).stdout.toString().trim(), String(process.getuid!()));
    assert.equal(file('plain').stdout.toString(), 'one\ntwo\n');
    assert.equal(file('no-newline').stdout.toString(), 'last line');
    assert.equal(file('empty').stdout.length, 0);
    assert.equal(file('empty').code, 0);
    assert.deepEqual(file('binary').stdout, binary);
    assert.equal(file('fake-marker').stdout.toString(), `x\n${NONCE.slice(0, 8)} 0 0 .\n\nnot a marker\n`);
    assert.equal(file("it's quoted $(touch pwned)").stdout.toString(), 'quoted');
    assert.notEqual(file('missing').code, 0);
    assert.notEqual(file('d').code, 0, 'a directory is not a readable file');
    const dirRec = (d: string) => one(idx((e) => e.kind === 'dir' && e.path === join(dir, d)));
    assert.deepEqual(dirRec('d').stdout.toString().split('\n').filter(Boolean).sort(), ['.hidden.conf', 'a.conf', 'b.conf', 'other.txt', 'sub.conf']);
    assert.deepEqual(dirRec('link-to-d').stdout.toString().split('\n').filter(Boolean).sort(), ['.hidden.conf', 'a.conf', 'b.conf', 'other.txt', 'sub.conf']);
    assert.notEqual(dirRec('plain').code, 0, 'a file is not a directory');
    assert.notEqual(dirRec('nope').code, 0);
    const g = idx((e) => e.kind === 'glob' && e.pattern.startsWith(join(dir, 'd')));
    const files = records.filter((r) => r.idx === g && r.name !== undefined);
    assert.deepEqual(
      files.map((r) => [r.name, r.stdout.toString()]),
      [
        [join(dir, 'd', 'a.conf'), 'A=1'],
        [join(dir, 'd', 'b.conf'), 'B=2\n'],
      ],
      'plain *.conf files only: no dot files, no directories',
    );
    assert.equal(one(g).code, 0);
    const none = idx((e) => e.kind === 'glob' && e.pattern.includes('none'));
    assert.equal(records.filter((r) => r.idx === none && r.name !== undefined).length, 0);
    const st = one(idx((e) => e.kind === 'statfs')).stdout.toString().split('\n');
    assert.equal(st[0], dir, 'statFs measures the nearest existing ancestor');
    assert.match(st[2]!, /^[0-9a-f]+ \d+ \d+ \d+ \d+ \d+$/);
    const c = (argv0: string) => one(idx((e) => e.kind === 'command' && e.argv[0] === argv0 && !e.onlyIfRoot && !e.onlyIfExists));
    const sh = c('sh');
    assert.deepEqual([sh.code, sh.stdout.toString(), sh.stderr.toString()], [3, 'out', 'err']);
    const missing = c('no-such-command-ac');
    assert.equal(missing.code, 127);
    assert.match(missing.stderr.toString(), /No such file or directory/);
    assert.equal(c('printf').stdout.toString(), 'a b');
    // Conditional commands run only when their condition holds (these tests run as root).
    const cond = (word: string) => records.filter((r) => r.idx === idx((e) => e.kind === 'command' && e.argv.includes(word)));
    assert.equal(cond('id').length, process.getuid!() === 0 ? 1 : 0);
    assert.equal(cond('absent').length, 0, 'a command whose path is missing is not run: no record');
    assert.equal(cond('present')[0]?.stdout.toString(), 'present\n');
    assert.equal(records.length, 1 + entries.length + 2 - 1, 'a leading sync record, one per entry (the skipped one aside), one per globbed file');
  };
  check(parse(out));
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 20000 }), { maxLength: 40 }), (cuts) => check(parse(out, cuts))),
    { numRuns: 60 },
  );
  // One byte at a time: markers split anywhere.
  const got: BatchRecord[] = [];
  const p = new BatchParser(NONCE, (r) => got.push(r));
  for (let i = 0; i < Math.max(out.stdout.length, out.stderr.length); i++) {
    if (i < out.stdout.length) p.stdout(out.stdout.subarray(i, i + 1));
    if (i < out.stderr.length) p.stderr(out.stderr.subarray(i, i + 1));
  }
  check(got);
});

for (const shell of SHELLS) test(`a quoted name in a path is data, never shell (${shell})`, () => {
  const script = batchScript(batchEntries({ files: [join(dir, "it's quoted $(touch pwned)")], dirs: [`${dir}/$(touch pwned2)`] }, { uid: false }), NONCE);
  runScript(script, shell);
  const names = spawnSync('ls', ['-1A', dir]).stdout.toString().split('\n');
  assert.equal(names.includes("it's quoted $(touch pwned)"), true);
  assert.equal(names.includes('pwned') || names.includes('pwned2'), false, 'no command ran from a path');
});

test('what a login script prints before the batch lands in the leading record, not in a fact', () => {
  const entries = batchEntries({ files: [join(dir, 'plain')] }, { uid: false });
  const out = runScript(`echo 'Welcome to node-1'; echo 'motd on stderr' >&2\n${batchScript(entries, NONCE)}`);
  const records = parse(out);
  assert.equal(records[0]!.idx, -1);
  assert.equal(records[0]!.stdout.toString(), 'Welcome to node-1\n');
  assert.equal(records[1]!.stdout.toString(), 'one\ntwo\n');
  const cache = new BatchCache(entries);
  for (const r of records) cache.record(r);
  cache.end();
  return cache.file(join(dir, 'plain')).then((b) => assert.equal(b!.toString(), 'one\ntwo\n'));
});

test('a record is delivered as soon as both halves are in, not at the end', () => {
  const got: number[] = [];
  const p = new BatchParser(NONCE, (r) => got.push(r.idx));
  p.stdout(Buffer.from(`abc\n${NONCE} 0 0 .\n`));
  assert.deepEqual(got, [], 'stderr half still missing');
  p.stderr(Buffer.from(`\n${NONCE} e\n`));
  assert.deepEqual(got, [0]);
  p.stdout(Buffer.from(`\n${NONCE} 1 0 .\npartial`));
  p.stderr(Buffer.from(`\n${NONCE} e\n`));
  assert.deepEqual(got, [0, 1]);
  assert.equal(p.pendingBytes, 'partial'.length);
});

test('the cache answers what the batch read and says "unknown" for the rest', async () => {
  const g = { files: ['/f'], dirs: ['/d'], globs: ['/etc/x.d/*.conf'], commands: [['env']], statFs: ['/var'] };
  const entries = batchEntries(g, { uid: true });
  const cache = new BatchCache(entries);
  const i = (k: string) => entries.findIndex((e) => e.kind === k);
  const rec = (idx: number, stdout: string, code = 0, name?: string): BatchRecord => ({ idx, code, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), ...(name ? { name } : {}) });
  cache.record(rec(i('uid'), '1000\n'));
  cache.record(rec(i('file'), 'hello'));
  cache.record(rec(i('dir'), 'b\na\n'));
  cache.record(rec(i('glob'), 'X=1', 0, '/etc/x.d/a.conf'));
  cache.record(rec(i('glob'), '', 0));
  cache.end(); // the batch stopped before the command and statfs entries
  assert.equal(await cache.uid(), 1000);
  assert.equal((await cache.file('/f'))!.toString(), 'hello');
  assert.deepEqual(await cache.dir('/d'), ['a', 'b']);
  assert.equal((await cache.file('/etc/x.d/a.conf'))!.toString(), 'X=1');
  assert.equal(await cache.file('/etc/x.d/b.conf'), undefined, 'not found by the glob: ask the node');
  assert.equal(await cache.file('/other'), undefined);
  assert.equal(await cache.command(['env'])!, undefined, 'never arrived: unknown');
  assert.equal(cache.command(['ls']), undefined);
  assert.equal(await cache.statFs('/var')!, undefined);
});

test('gathers merge without repeats; only simple globs are kept', () => {
  const m = mergeGathers([
    { files: ['/a', '/b'], commands: [['env'], ['id', '-u'], { argv: ['nft', 'list', 'ruleset'], onlyIfRoot: true }, { argv: ['env'], onlyIfRoot: true }, { argv: ['sys'], onlyIfExists: '/run/x' }], globs: ['/etc/*.conf', '/x/*/y', '/z/**'] },
    { files: ['/b', '/c'], commands: [['env'], { argv: ['sys'], onlyIfExists: '/run/x' }], dirs: ['/d'] },
  ]);
  assert.deepEqual(m.files, ['/a', '/b', '/c']);
  assert.deepEqual(m.commands, [{ argv: ['env'] }, { argv: ['id', '-u'] }, { argv: ['nft', 'list', 'ruleset'], onlyIfRoot: true }, { argv: ['sys'], onlyIfExists: '/run/x' }], 'a command also wanted unconditionally runs unconditionally');
  assert.deepEqual(m.globs, ['/etc/*.conf', '/x/*/y']);
  assert.equal(globMatches('/lib/modules/*/modules.builtin', '/lib/modules/6.1.0-9-amd64/modules.builtin'), true);
  assert.equal(globMatches('/lib/modules/*/modules.builtin', '/lib/modules/.old/modules.builtin'), false);
  assert.equal(globMatches('/lib/modules/*/modules.builtin', '/lib/modules/a/b/modules.builtin'), false);
  assert.equal(globMatches('/etc/sysctl.d/*.conf', '/etc/sysctl.d/99-k8s.conf'), true);
  assert.equal(globMatches('/etc/sysctl.d/*.conf', '/etc/sysctl.d/sub/x.conf'), false);
  assert.equal(globMatches('/etc/sysctl.d/*.conf', '/etc/sysctl.d/.x.conf'), false);
  assert.equal(globMatches('/etc/sysctl.d/*.conf', '/etc/sysctl.d/x.conf.bak'), false);
});
