// The local Host against this machine: commands, files, filesystems, TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalHost } from '../../../../src/preflight/hosts/local.ts';
import { fsTypeFromMagic, mountFor, parseMountinfo } from '../../../../src/preflight/hosts/mountinfo.ts';

const host = createLocalHost({ name: 'here' });

test('exec runs argv without a shell, reports 127 for a missing command', async () => {
  const r = await host.exec(['sh', '-c', 'echo "$1"; echo err >&2; exit 3', 'sh', 'a; b']);
  assert.deepEqual(r, { code: 3, stdout: 'a; b\n', stderr: 'err\n' });
  const missing = await host.exec(['/nonexistent/astrago-nope']);
  assert.equal(missing.code, 127);
  const input = await host.exec(['cat'], { input: 'hello' });
  assert.equal(input.stdout, 'hello');
});

test('exec honours timeoutMs and AbortSignal, killing the command', async () => {
  const t = await host.exec(['sleep', '30'], { timeoutMs: 100 });
  assert.equal(t.code, null);
  const ac = new AbortController();
  const p = host.exec(['sleep', '30'], { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('stop now')), 50);
  await assert.rejects(p, /stop now/);
  // A grandchild holding stdout open does not keep the call waiting.
  const g = await host.exec(['sh', '-c', 'sleep 30 & sleep 30'], { timeoutMs: 100 });
  assert.equal(g.code, null);
});

test('readFile / readDir return null when absent; /proc files read fully', async () => {
  assert.equal(await host.readFile('/nonexistent/file'), null);
  assert.equal(await host.readDir('/nonexistent/dir'), null);
  const meminfo = await host.readFile('/proc/meminfo');
  assert.match(meminfo ?? '', /^MemTotal:/m);
  const dir = mkdtempSync(join(tmpdir(), 'ac-lh-'));
  try {
    writeFileSync(join(dir, 'b'), 'x'.repeat(100));
    writeFileSync(join(dir, 'a'), '');
    assert.deepEqual(await host.readDir(dir), ['a', 'b']);
    assert.equal((await host.readFile(join(dir, 'b'), { maxBytes: 10 }))?.length, 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('statFs measures the nearest existing ancestor and names the filesystem', async () => {
  const s = await host.statFs('/tmp/astrago-does-not-exist/deeper');
  assert.equal(s.measuredPath, '/tmp');
  assert.ok(s.totalBytes > 0 && s.freeBytes <= s.totalBytes);
  assert.ok(s.fsType.length > 0 && !s.fsType.startsWith('0x'), s.fsType);
  const proc = await host.statFs('/proc/self');
  assert.equal(proc.fsType, 'proc');
  assert.equal(proc.mountPoint, '/proc');
});

test('mountinfo parsing picks the longest mount point and unescapes', () => {
  const text = [
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '28 27 0:25 / /var/lib/my\\040data rw - xfs /dev/sdb1 rw',
    '29 27 0:26 / /var rw shared:1 - btrfs /dev/sdc rw',
  ].join('\n');
  const m = parseMountinfo(text);
  assert.equal(mountFor(m, '/var/lib/my data/etcd')?.fsType, 'xfs');
  assert.equal(mountFor(m, '/var/lib/my')?.fsType, 'btrfs');
  assert.equal(mountFor(m, '/variable')?.fsType, 'ext4');
  assert.equal(fsTypeFromMagic(0x58465342), 'xfs');
  assert.equal(fsTypeFromMagic(0x1234), '0x1234');
});

test('connectTcp connects on loopback and refuses / times out cleanly', async () => {
  const srv = createServer((s) => s.end('hi'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  try {
    const sock = await host.connectTcp('127.0.0.1', port, { timeoutMs: 2000 });
    const data = await new Promise<string>((r) => sock.once('data', (d) => r(String(d))));
    assert.equal(data, 'hi');
    sock.destroy();
  } finally {
    await new Promise((r) => srv.close(r));
  }
  await assert.rejects(host.connectTcp('127.0.0.1', port, { timeoutMs: 2000 }), /ECONNREFUSED/);
});

test('uid reports the process user', async () => {
  assert.equal(await host.uid(), process.getuid!());
});
