// A local preflight run with the built binary, as a field engineer runs it:
// every report format, the JSON against the report schema, the exit codes
// (0 pass, 1 a threshold fails, 2 bad input naming file:line field), and a
// run as the unprivileged user nobody, where root-only checks say skip + command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYamlText, stringify } from 'yaml';
import { ensureBinary, ROOT, runBinary } from '../support/run-binary.ts';
import { reportSchema, type Report } from '../../src/schema/report.ts';
import { parseOsRelease } from '../../src/preflight/checks/system/os-release.ts';

let dir: string;
let passProfile: string;
let failProfile: string;
const env = { PATH: process.env.PATH, HOME: '/tmp' };
/** The checks of this issue: they depend only on this machine and the profile. */
const SYSTEM = 'host,os,resources,gpu,disk';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** The built-in profile, relaxed so that this machine passes it (any CI container, root or not). */
function relaxedProfile(): Record<string, any> {
  const p = parseYamlText(readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8'));
  const osr = parseOsRelease(readFileSync('/etc/os-release', 'utf8'));
  p.metadata.name = 'test-relaxed';
  p.os.supported.push({ id: osr.ID, name: 'this test machine', versions: [osr.VERSION_ID ?? '0'] });
  for (const role of ['control-plane', 'worker', 'gpu-worker']) {
    p.roles[role].cpu = { min: 1, recommended: 1 };
    p.roles[role].memoryGiB = { min: 0.25, recommended: 0.25 };
    p.roles[role].ports = [];
    p.roles[role].disks = [
      { path: '/', minFreeGiB: 0.05, minFreeInodes: 100 },
      { path: '/var/lib/etcd', minFreeGiB: 0.05, fsync: true },
    ];
  }
  p.disk = { fsyncP99WarnMs: 10000, fsyncP99FailMs: 20000, fsyncSamples: 20 };
  p.kernel = { minVersion: '3.0', modules: [], sysctls: {}, swapAllowed: true, cgroup: 'any', selinux: ['enforcing', 'permissive', 'disabled'] };
  return p;
}

before(() => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-pf-'));
  chmodSync(dir, 0o755); // nobody reads the profiles too
  passProfile = join(dir, 'pass.yaml');
  writeFileSync(passProfile, stringify(relaxedProfile()));
  const strict = relaxedProfile();
  strict.roles['control-plane'].cpu = { min: 4096 };
  failProfile = join(dir, 'fail.yaml');
  writeFileSync(failProfile, stringify(strict));
  for (const f of [passProfile, failProfile]) chmodSync(f, 0o644);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function parseReport(text: string): Report {
  const r = reportSchema.safeParse(JSON.parse(text));
  assert.ok(r.success, `report does not match the schema: ${r.success ? '' : JSON.stringify(r.error.issues).slice(0, 500)}`);
  return r.data;
}

function tally(report: Report) {
  const s = { pass: 0, warn: 0, fail: 0, skip: 0, error: 0 };
  for (const r of report.results) s[r.status]++;
  return s;
}

const expectedExit = (rep: Report) => (rep.summary.fail + rep.summary.error > 0 ? 1 : 0);

test('exit 0 and a valid JSON report when this machine meets the profile', async () => {
  const r = await runBinary(['--profile', passProfile, '--only', SYSTEM, '--format', 'json'], { env, cwd: dir });
  const rep = parseReport(r.stdout);
  assert.equal(r.code, 0, `${r.stderr}\n${rep.results.filter((x) => x.status === 'fail' || x.status === 'error').map((x) => `${x.id}: ${x.message}`).join('\n')}`);
  assert.deepEqual(rep.summary, tally(rep));
  assert.equal(rep.profile, passProfile);
  assert.deepEqual(rep.nodes?.map((n) => n.roles), [['control-plane']], 'default role without a site');
  const ids = rep.results.map((x) => x.id);
  for (const id of ['host.privileges', 'os.release', 'os.hostname', 'resources.cpu', 'resources.memory', 'gpu.devices', 'disk.free[/]', 'disk.filesystem[/]', 'disk.inodes[/]', 'disk.fsync']) {
    assert.ok(ids.includes(id), `${id} missing from ${ids.join(', ')}`);
  }
  assert.ok(!ids.includes('gpu.driver'), 'GPU driver checks apply to gpu-worker nodes only');
  // disk.free: one result per filesystem, naming every required path it holds.
  const free = rep.results.filter((x) => x.id.startsWith('disk.free['));
  assert.deepEqual(free.flatMap((x) => x.facts.paths as string[]).sort(), ['/', '/var/lib/etcd']);
  assert.equal(new Set(free.map((x) => x.facts.mountPoint)).size, free.length, 'no filesystem judged twice');
  for (const x of rep.results) {
    assert.notEqual(x.checklist, '-', `${x.id} maps to a checklist item`);
    assert.ok(x.node && x.message && x.facts && typeof x.durationMs === 'number');
  }
  const fsync = rep.results.find((x) => x.id === 'disk.fsync')!;
  assert.equal(fsync.status, 'pass', fsync.message);
  assert.equal(fsync.facts.samples, 20);
  assert.ok(typeof fsync.facts.p99Ms === 'number');
  // The sample file is removed again.
  const measured = String(fsync.facts.measuredPath);
  assert.deepEqual(readdirSync(measured).filter((f) => f.startsWith('.astrago-check-fsync-')), []);
});

test('--role picks the role thresholds; gpu-worker adds the GPU checks', async () => {
  const r = await runBinary(['--profile', passProfile, '--role', 'gpu-worker', '--only', 'gpu,resources', '--format', 'json'], { env, cwd: dir });
  const rep = parseReport(r.stdout);
  assert.deepEqual(rep.nodes?.map((n) => n.roles), [['gpu-worker']]);
  const ids = rep.results.map((x) => x.id).sort();
  const gpu = ['devices', 'driver', 'ecc', 'fabricmanager', 'iommu', 'kernel-headers', 'memory-errors', 'mig', 'model', 'nouveau', 'pcie', 'persistence', 'secure-boot', 'site.driver', 'site.model', 'site.os', 'toolkit'];
  assert.deepEqual(ids, [...gpu.map((g) => `gpu.${g}`), 'resources.cpu', 'resources.memory']);
  const hasGpu = (rep.results.find((x) => x.id === 'gpu.devices')!.facts.count as number) > 0;
  if (!hasGpu) {
    // A gpu-worker without a GPU must fail, and the run with it.
    assert.equal(rep.results.find((x) => x.id === 'gpu.devices')!.status, 'fail');
    assert.equal(r.code, 1);
  }
  assert.equal(r.code, expectedExit(rep));
});

test('exit 1 when a threshold fails; the failing result says what to do', async () => {
  const r = await runBinary(['--profile', failProfile, '--only', SYSTEM, '--format', 'json'], { env, cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  const rep = parseReport(r.stdout);
  const cpu = rep.results.find((x) => x.id === 'resources.cpu')!;
  assert.equal(cpu.status, 'fail');
  assert.match(cpu.message, /needs at least 4096/);
  assert.equal(cpu.checklist, 'RES-01');
  assert.equal(cpu.category, 'resources');
  assert.ok(cpu.remediation);
  // --strict turns warnings into exit 1; without failures and warnings it stays 0.
  const ok = await runBinary(['--profile', passProfile, '--only', 'resources', '--strict', '--format', 'json'], { env, cwd: dir });
  assert.equal(ok.code, 0, ok.stdout);
});

test('every format renders the same run; the full run exits by its summary', async () => {
  const json = await runBinary(['--profile', passProfile, '--format', 'json'], { env, cwd: dir });
  const rep = parseReport(json.stdout);
  assert.equal(json.code, expectedExit(rep), json.stderr);
  assert.deepEqual(rep.summary, tally(rep));

  const yaml = await runBinary(['--profile', passProfile, '--format', 'yaml', '--only', SYSTEM], { env, cwd: dir });
  const fromYaml = reportSchema.safeParse(parseYamlText(yaml.stdout));
  assert.ok(fromYaml.success, 'YAML report matches the report schema');
  assert.ok(fromYaml.data.results.some((x) => x.id === 'disk.fsync'));

  const junit = await runBinary(['--profile', failProfile, '--format', 'junit', '--only', SYSTEM], { env, cwd: dir });
  assert.equal(junit.code, 1);
  assert.match(junit.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites /);
  assert.match(junit.stdout, /<testcase name="resources\.cpu"[^>]*>\s*<failure message="[^"]*needs at least 4096/);
  const cases = junit.stdout.match(/<testcase /g)?.length ?? 0;
  const viaJson = parseReport((await runBinary(['--profile', failProfile, '--format', 'json', '--only', SYSTEM], { env, cwd: dir })).stdout);
  assert.equal(cases, viaJson.results.length, 'one testcase per result');

  const md = await runBinary(['--profile', passProfile, '--format', 'markdown', '--only', SYSTEM], { env, cwd: dir });
  assert.equal(md.code, 0);
  assert.match(md.stdout, /^# /);
  for (const heading of ['## Accounts', '## Resources', '## Storage', '## OS']) assert.ok(md.stdout.includes(heading), `${heading} in markdown`);
  assert.match(md.stdout, /`disk\.fsync`/);

  const tty = await runBinary(['--profile', passProfile, '--only', SYSTEM], { env, cwd: dir });
  assert.equal(tty.code, 0);
  assert.match(tty.stdout, /os\.release/);
  assert.ok(!tty.stdout.includes('\x1b['), 'no colour when stdout is not a terminal');
  const forced = await runBinary(['--profile', passProfile, '--only', 'os'], { env: { ...env, FORCE_COLOR: '1' }, cwd: dir });
  assert.ok(forced.stdout.includes('\x1b['), 'colour when forced');
  const noColor = await runBinary(['--profile', passProfile, '--only', 'os'], { env: { ...env, FORCE_COLOR: '1', NO_COLOR: '1' }, cwd: dir });
  assert.ok(!noColor.stdout.includes('\x1b['), 'NO_COLOR wins');
});

test('--output writes the report to a file, never half-written', async () => {
  const out = join(dir, 'report.json');
  const r = await runBinary(['--profile', passProfile, '--only', SYSTEM, '--format', 'json', '--output', 'report.json'], { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /report written to .*report\.json/);
  parseReport(readFileSync(out, 'utf8'));
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
});

test('--output into a missing directory creates it; one that cannot be written is refused before any check runs', async () => {
  const nested = join(dir, 'no-such-dir', 'deeper', 'r.md');
  const r = await runBinary(['--profile', passProfile, '--only', 'os', '--format', 'markdown', '--output', nested], { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(nested, 'utf8'), /^# Astrago preflight report/);
  const locked = join(dir, 'locked');
  mkdirSync(locked, { mode: 0o755 }); // owned by root: user nobody cannot write in it
  chmodSync(dir, 0o755);
  const bad = await runBinary(['--profile', passProfile, '--only', 'os', '--output', join(locked, 'sub', 'r.json')], { env, cwd: '/', wrap: NOBODY });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--output .*locked\/sub\/r\.json: cannot write there \(EACCES/);
  assert.doesNotMatch(bad.stderr, /report written/);
  assert.equal(bad.stdout, '');
});

test('exit 2 for a bad profile or site file, naming file:line and the field', async () => {
  const badProfile = join(dir, 'bad-profile.yaml');
  const lines = stringify(relaxedProfile()).split('\n');
  const cpuLine = lines.findIndex((l) => /^ {4}cpu:/.test(l)); // the first role: control-plane
  lines.splice(cpuLine + 1, 1, '      min: many');
  writeFileSync(badProfile, lines.join('\n'));
  const p = await runBinary(['--profile', badProfile], { env, cwd: dir });
  assert.equal(p.code, 2);
  assert.match(p.stderr, new RegExp(`bad-profile\\.yaml:${cpuLine + 2}: field 'roles\\.control-plane\\.cpu\\.min': expected number`));
  assert.equal(p.stdout, '');

  const site = join(dir, 'site.yaml');
  writeFileSync(site, ['apiVersion: astrago.io/v1', 'kind: Site', 'metadata: {name: lab}', 'nodes:', '  - name: m1', '    roles: [control-plane]', ''].join('\n'));
  const s = await runBinary(['--site', site, '--profile', passProfile], { env, cwd: dir });
  assert.equal(s.code, 2);
  assert.match(s.stderr, /site\.yaml:5: field 'nodes\[0\]\.address': required field is missing/);

  writeFileSync(site, ['apiVersion: astrago.io/v1', 'kind: Site', 'metadata: {name: lab}', 'nodes:', '  - {name: m1, address: 127.0.0.1, roles: [control-plane]}', ''].join('\n'));
  const n = await runBinary(['--site', site, '--node', 'm2'], { env, cwd: dir });
  assert.equal(n.code, 2);
  assert.match(n.stderr, /--node 'm2' is not a node of .*site\.yaml \(nodes: m1\)/);

  for (const args of [['--format', 'pdf'], ['--timeout', 'soon'], ['--concurrency', '0'], ['--role', 'master'], ['--only', 'nosuch.check'], ['--profile', join(dir, 'missing.yaml')]]) {
    const u = await runBinary(args, { env, cwd: dir });
    assert.equal(u.code, 2, `${args.join(' ')}: ${u.stderr}`);
    assert.ok(u.stderr.length > 0 && u.stdout === '', args.join(' '));
  }
});

test('as user nobody: root-only checks skip and name the command to run', async () => {
  const r = await runBinary(['--profile', passProfile, '--only', SYSTEM, '--format', 'json'], { env, cwd: dir, wrap: NOBODY });
  const rep = parseReport(r.stdout);
  assert.equal(r.code, expectedExit(rep), r.stderr);
  const priv = rep.results.find((x) => x.id === 'host.privileges')!;
  assert.equal(priv.facts.uid, 65534);
  assert.notEqual(priv.status, 'fail');
  const fsync = rep.results.find((x) => x.id === 'disk.fsync')!;
  if (existsSync('/var/lib/etcd')) return; // measured in place: writability depends on that directory
  assert.equal(fsync.status, 'skip', fsync.message);
  assert.match(fsync.message, /needs root: cannot write a test file in \/var\/lib as uid 65534/);
  assert.match(fsync.remediation ?? '', /sudo astrago-check --only disk\.fsync/);
  // The rest still ran as nobody.
  assert.equal(rep.results.find((x) => x.id === 'resources.memory')!.status, 'pass');
  assert.equal(rep.results.find((x) => x.id === 'disk.free[/]')!.status, 'pass');
});
