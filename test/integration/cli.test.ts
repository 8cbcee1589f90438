// The command-line contract (README, --help), checked on the built binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinary, ROOT, runBinary } from '../support/run-binary.ts';
import { parseYaml } from '../../src/schema/load.ts';
import { siteSchema } from '../../src/schema/site.ts';
import { SCHEMA_KINDS } from '../../src/schema/index.ts';
import { reportSchema } from '../../src/schema/report.ts';
import { RUNTIME_FLAGS } from '../../build/runtime-flags.ts';

let dir: string;
before(() => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test('the binary runs with its Node options: a 1 MiB young generation (peak memory of bundle create and install)', { skip: process.env.AC_TEST_FROM_SOURCE === '1' && 'the options are the built binary\'s' }, async () => {
  // A preload (NODE_OPTIONS --require, which the binary honours as node does) reports from inside it.
  const probe = join(dir, 'runtime-probe.cjs');
  writeFileSync(probe, `let junk = []; for (let i = 0; i < 3e5; i++) { junk.push({ i, s: 'x' + i }); if (junk.length > 1e4) junk = []; }
process.stderr.write(JSON.stringify({ execArgv: process.execArgv, newSpace: require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size }));`);
  const r = await runBinary(['--version'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: `--require ${probe}` } });
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(r.stderr) as { execArgv: string[]; newSpace: number };
  assert.deepEqual(seen.execArgv, RUNTIME_FLAGS);
  // (V8's default young generation grows to 16 MiB and more under this allocation)
  assert.ok(seen.newSpace <= 4 << 20, `new space ${seen.newSpace} bytes`);
});

test('--version prints the package version, exit 0', async () => {
  for (const flag of ['--version', '-v']) {
    const r = await runBinary([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `astrago-check ${pkg.version}\n`);
    assert.equal(r.stderr, '');
  }
});

test('--help lists every command and the exit codes, exit 0', async () => {
  const r = await runBinary(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['preflight', 'checklist', 'checklist import', 'checks', 'profile', 'schema', 'bundle create', 'bundle verify', 'bundle inspect', 'bundle install']) {
    assert.match(r.stdout, new RegExp(`^  ${cmd}\\s`, 'm'), cmd);
  }
  assert.match(r.stdout, /Exit codes: 0 .*1 .*2 /);
});

test('profile prints the embedded built-in profile; checks lists every check (the binary, not the source tree)', async () => {
  const p = await runBinary(['profile'], { cwd: dir });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout, readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8'));
  const c = await runBinary(['checks', '--format', 'markdown'], { cwd: dir });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, readFileSync(join(ROOT, 'docs', 'checks.md'), 'utf8'));
  assert.equal((await runBinary(['checks', '--format', 'pdf'])).code, 2);
});

test('--output and --save-facts into a directory that does not exist yet: created (checklist, report merge, preflight), exit as usual', async () => {
  const d = join(dir, 'new-out');
  const cl = await runBinary(['checklist', '--format', 'markdown', '--output', join(d, 'a', 'form.md')]);
  assert.equal(cl.code, 0, cl.stderr);
  assert.match(readFileSync(join(d, 'a', 'form.md'), 'utf8'), /\|/);
  const pf = await runBinary(['--only', 'os.hostname', '--format', 'json', '--output', join(d, 'b', 'r.json'), '--save-facts', join(d, 'c', 'facts.json')]);
  assert.equal(pf.code, 0, pf.stderr);
  assert.equal(JSON.parse(readFileSync(join(d, 'c', 'facts.json'), 'utf8')).kind, 'PreflightFacts');
  const m = await runBinary(['report', 'merge', join(d, 'b', 'r.json'), '--format', 'json', '--output', join(d, 'd', 'site.json')]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(reportSchema.parse(JSON.parse(readFileSync(join(d, 'd', 'site.json'), 'utf8'))).nodes?.length, 1);
  // A --save-facts that cannot be written is refused before any check runs, naming that flag.
  writeFileSync(join(d, 'file'), 'x');
  const bad = await runBinary(['--only', 'os.hostname', '--format', 'json', '--save-facts', join(d, 'file', 'facts.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /preflight: --save-facts .*file\/facts\.json: cannot write there/);
  assert.equal(bad.stdout, '');
  // An --output that is a directory: refused before any check runs, not after the whole run.
  const isDir = await runBinary(['--only', 'os.hostname', '--output', d]);
  assert.equal(isDir.code, 2);
  assert.match(isDir.stderr, /preflight: --output \S*new-out is a directory: give a file name in it/);
  assert.equal(isDir.stdout, '');
});

test('preflight --help says what a bare --timeout number means', async () => {
  const r = await runBinary(['preflight', '--help']);
  assert.match(r.stdout, /--timeout DUR\s+per-check timeout: 5s, 500ms, 2m; a bare number is\s+seconds/);
});

const COMMANDS: [string[], RegExp][] = [
  [['preflight'], /Usage: astrago-check \[preflight\]/],
  [['checklist'], /Usage: astrago-check checklist/],
  [['checklist', 'import'], /Usage: astrago-check checklist import FORM.xlsx/],
  [['checks'], /Usage: astrago-check checks/],
  [['profile'], /Usage: astrago-check profile/],
  [['schema'], /Usage: astrago-check schema/],
  [['bundle', 'create'], /Usage: astrago-check bundle create/],
  [['bundle', 'verify'], /Usage: astrago-check bundle verify/],
  [['bundle', 'inspect'], /Usage: astrago-check bundle inspect/],
  [['bundle', 'install'], /Usage: astrago-check bundle install/],
  [['report'], /Usage: astrago-check report merge/],
  [['report', 'merge'], /Usage: astrago-check report merge/],
];

for (const [cmd, usage] of COMMANDS) {
  test(`${cmd.join(' ')} --help prints its usage, exit 0`, async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runBinary([...cmd, flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, usage);
      assert.equal(r.stderr, '');
    }
  });
}

test('bundle alone prints the bundle help as a usage error (exit 2); bundle --help prints it, exit 0', async () => {
  const r = await runBinary(['bundle']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /bundle: a command is required\nUsage: astrago-check bundle COMMAND/);
  for (const cmd of ['create', 'verify', 'inspect', 'install']) assert.match(r.stderr, new RegExp(`^  ${cmd}\\s`, 'm'), cmd);
  const help = await runBinary(['bundle', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: astrago-check bundle COMMAND/);
});

const BAD: [args: string[], message: RegExp][] = [
  [['frobnicate'], /unknown command 'frobnicate'/],
  [['bundle', 'frob'], /unknown bundle command 'frob'/],
  [['--bogus'], /Unknown option '--bogus'/],
  [['preflight', '--bogus'], /Unknown option '--bogus'/],
  [['checklist', '--bogus'], /Unknown option '--bogus'/],
  [['preflight', '--format', 'xml'], /--format must be one of tty, json, yaml, junit, markdown, html \(got 'xml'\)/],
  [['--format', 'xml'], /--format must be one of tty, json, yaml, junit, markdown/],
  [['preflight', '--timeout', 'abc'], /--timeout expects a duration like 5s.*\(got 'abc'\)/],
  [['preflight', '--concurrency', '0'], /--concurrency expects a whole number from 1 to \d+ \(got '0'\)/],
  [['preflight', '--concurrency', 'many'], /--concurrency expects a whole number/],
  [['preflight', '--lang', 'fr'], /--lang must be one of en, ko \(got 'fr'\)/],
  [['preflight', '--role', 'boss'], /--role must be one of control-plane, worker, gpu-worker/],
  [['preflight', '--site'], /--site.*argument missing|Option '--site <value>' argument missing/],
  [['preflight', '--ssh-concurrency', '4'], /--ssh-concurrency is for the site's nodes over SSH; give --site site\.yaml/],
  [['preflight', '--accept-new-host-keys', '--ssh-concurrency', '4'], /--ssh-concurrency and --accept-new-host-keys are for the site's nodes over SSH/],
  [['checklist', '--lang', 'fr'], /--lang must be one of en, ko \(got 'fr'\)/],
  [['checklist', '--format', 'json'], /--format must be one of yaml, markdown, xlsx \(got 'json'\)/],
  [['schema', 'nope'], /unknown kind 'nope'/],
  [['schema', 'site', 'report'], /unexpected argument 'report'/],
  [['bundle', 'verify'], /missing argument/],
  [['bundle', 'inspect', 'x.tar', '--format', 'xml'], /--format must be one of/],
];

for (const [args, message] of BAD) {
  test(`usage error: ${args.join(' ')} -> exit 2 with a clear message`, async () => {
    const r = await runBinary(args, { cwd: dir });
    assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /^astrago-check: /);
    assert.equal(r.stdout, '');
  });
}

test('an invalid site file -> exit 2 naming the file, the line and the field', async () => {
  const site = join(dir, 'bad-site.yaml');
  writeFileSync(site, 'apiVersion: astrago.io/v1\nkind: Site\nmetadata: {name: x}\nnodes:\n  - name: n1\n    address: 127.0.0.1\n    roles: [boss]\n');
  const r = await runBinary(['preflight', '--site', site, '--format', 'json'], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /bad-site\.yaml:7: field 'nodes\[0\]\.roles\[0\]'/);
  assert.equal(r.stdout, '');
});

test('a missing site file -> exit 2 naming it', async () => {
  const r = await runBinary(['--site', join(dir, 'nope.yaml')], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nope\.yaml: file not found/);
});

test('checklist from the binary validates as a site file (en and ko); markdown form too', async () => {
  for (const lang of ['en', 'ko']) {
    const r = await runBinary(['checklist', '--lang', lang]);
    assert.equal(r.code, 0, r.stderr);
    const site = parseYaml(r.stdout, `checklist-${lang}.yaml`, siteSchema);
    assert.equal(site.kind, 'Site');
  }
  const ko = await runBinary(['checklist', '--lang', 'ko']);
  assert.match(ko.stdout, /# 사이트 이름/);
  const md = await runBinary(['checklist', '--format', 'markdown', '--lang', 'ko']);
  assert.equal(md.code, 0);
  assert.match(md.stdout, /^# Astrago 고객 정보 체크리스트/);
  // Each item the preflight verifies, with its check ids; the values to give are asked in the field tables.
  assert.match(md.stdout, /\| NET-01 \| .+ \| `ports\.free` \|/);
  assert.match(md.stdout, /\| `registry\.url` \| .+ \| \|/);
});

test('checklist --profile takes the items from an edited profile; a bad profile -> exit 2', async () => {
  const text = readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8').replace('title: {en: Swap is off, ko: 스왑 비활성화}', 'title: {en: Swap must be off (edited), ko: 스왑 꺼짐}');
  const good = join(dir, 'profile.yaml');
  writeFileSync(good, text);
  const r = await runBinary(['checklist', '--profile', good]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /OS-05\s+Swap must be off \(edited\)/);
  const bad = join(dir, 'bad-profile.yaml');
  writeFileSync(bad, text.replace('kind: CheckProfile', 'kind: Profile'));
  const b = await runBinary(['checklist', '--profile', bad]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /bad-profile\.yaml:\d+: field 'kind'/);
});

test('schema prints the same text as schemas/KIND.json (default site)', async () => {
  const def = await runBinary(['schema']);
  assert.equal(def.code, 0);
  assert.equal(def.stdout, readFileSync(join(ROOT, 'schemas', 'site.json'), 'utf8'));
  for (const kind of SCHEMA_KINDS) {
    const r = await runBinary(['schema', kind]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, readFileSync(join(ROOT, 'schemas', `${kind}.json`), 'utf8'));
  }
});

test('preflight --lang ko: Korean labels in markdown and tty; json validates against the report schema', async () => {
  const md = await runBinary(['--only', 'os.hostname', '--lang', 'ko', '--format', 'markdown'], { cwd: dir });
  assert.ok(md.code === 0 || md.code === 1, md.stderr);
  assert.match(md.stdout, /^# Astrago 사전 점검 보고서/);
  assert.match(md.stdout, /^## 네트워크$/m);
  assert.match(md.stdout, /### NET-07 호스트 이름이 유효하고 중복되지 않음/);
  const tty = await runBinary(['--only', 'os.hostname', '--lang', 'ko'], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, FORCE_COLOR: '1' } });
  assert.match(tty.stdout, /요약(\x1b\[0m)?: /);
  assert.match(tty.stdout, /\x1b\[/, 'FORCE_COLOR colours even when stdout is a pipe');
  const plain = await runBinary(['--only', 'os.hostname'], { cwd: dir });
  assert.doesNotMatch(plain.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
  const json = await runBinary(['--only', 'os.hostname', '--lang', 'ko', '--format', 'json'], { cwd: dir });
  const report = reportSchema.parse(JSON.parse(json.stdout));
  assert.equal(report.lang, 'ko');
  assert.deepEqual(report.results.map((r) => [r.id, r.checklist, r.category]), [['os.hostname', 'NET-07', 'network']]);
});
