// Facts kept and judged again (--save-facts, --from-facts) with the built binary against two
// real sshd nodes: judging the kept facts with no connection gives the same status for every
// result as the live run with the same profile; another profile changes what it should; a
// damaged facts file is refused with exit 2 naming it; no secret reaches the facts file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '../support/process.ts';
import { createLoginUser, makeKey, startSshd, type Sshd } from '../support/sshd.ts';
import { ensureBinary, ROOT, runBinary } from '../support/run-binary.ts';
import { reportSchema, type Report } from '../../src/schema/report.ts';

const pid = process.pid;
const SECRET = `pw-${pid}-Registry5ecret`;
let dir: string;
let login: { name: string; remove(): void };
const sshds: Sshd[] = [];
let site: string;
const env = () => ({ PATH: process.env.PATH, HOME: dir, AC_REG_PW: SECRET });

before(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-fleet-facts-'));
  chmodSync(dir, 0o755);
  login = createLoginUser(`ac${pid}u`, dir);
  const key = makeKey(join(dir, 'id_ed25519'));
  for (const [i, address] of ['127.0.0.1', '127.0.0.2'].entries()) {
    mkdirSync(join(dir, `n${i}`));
    sshds.push(await startSshd({ dir: join(dir, `n${i}`), address, ports: [await freePort(address)], authorizedKeys: [key.publicKey], hostname: `facts-${i}` }));
  }
  writeFileSync(join(dir, 'known_hosts'), sshds.map((s) => s.knownHostsLine()).join('\n') + '\n');
  site = join(dir, 'site.yaml');
  writeFileSync(
    site,
    stringify({
      apiVersion: 'astrago.io/v1',
      kind: 'Site',
      metadata: { name: 'facts-lab' },
      nodes: sshds.map((s, i) => ({
        name: `node-${i}`,
        address: s.address,
        roles: [i === 0 ? 'control-plane' : 'worker'],
        ssh: { user: login.name, port: s.ports[0], keyFile: key.privateKeyFile, knownHostsFile: join(dir, 'known_hosts') },
      })),
      registry: { url: 'https://127.0.0.1:9', username: 'robot', passwordEnv: 'AC_REG_PW' },
    }),
  );
});
after(async () => {
  await Promise.all(sshds.map((s) => s.stop()));
  login?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const statuses = (r: Report) => new Map(r.results.map((x) => [`${x.node} ${x.id}`, x.status]));
const report = (file: string) => reportSchema.parse(JSON.parse(readFileSync(file, 'utf8')));

test('facts judged again with no connection: the same statuses as the live run; another profile changes them', async () => {
  const facts = join(dir, 'facts.json');
  const live = join(dir, 'live.json');
  // dns.* would query this machine's resolver for made-up names: left out.
  const r = await runBinary(['--site', site, '--skip', 'dns.', '--timeout', '10s', '--format', 'json', '--output', live, '--save-facts', facts], { env: env(), timeoutMs: 180_000 });
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /facts written to .*facts\.json: \d+ node checks on 2 nodes/);
  const kept = readFileSync(facts, 'utf8');
  assert.ok(!kept.includes(SECRET), 'the registry password is not in the facts');
  const liveReport = report(live);
  assert.ok(liveReport.results.length > 40);

  // Judged again: the sshd nodes are gone, nothing connects; the same profile gives the same statuses.
  await Promise.all(sshds.map((s) => s.stop()));
  const again = join(dir, 'again.json');
  const j = await runBinary(['preflight', '--from-facts', facts, '--format', 'json', '--output', again], { env: env(), timeoutMs: 60_000 });
  assert.equal(j.code, r.code, j.stderr);
  const againReport = report(again);
  assert.deepEqual(statuses(againReport), statuses(liveReport));
  assert.deepEqual(againReport.nodes?.map((n) => n.name), ['node-0', 'node-1']);
  assert.equal(againReport.site, 'facts-lab');

  // Another profile: workers now need 100000 GiB of memory: resources.memory fails on node-1 only.
  const profile = parse(readFileSync(join(ROOT, 'checks', 'default.yaml'), 'utf8'));
  profile.roles.worker.memoryGiB = { min: 100000, recommended: 200000 };
  const other = join(dir, 'big-workers.yaml');
  writeFileSync(other, stringify(profile));
  const o = await runBinary(['preflight', '--from-facts', facts, '--profile', other, '--format', 'json'], { env: env(), timeoutMs: 60_000 });
  const otherReport = reportSchema.parse(JSON.parse(o.stdout));
  const mem = (rep: Report, node: string) => rep.results.find((x) => x.id === 'resources.memory' && x.node === node)?.status;
  assert.equal(mem(otherReport, 'node-1'), 'fail', o.stdout.slice(0, 300));
  assert.equal(mem(otherReport, 'node-0'), mem(liveReport, 'node-0'), 'the control plane keeps its thresholds');
  assert.equal(o.code, 1);

  // Tty output of kept facts works the same way (and --only narrows it).
  const tty = await runBinary(['preflight', '--from-facts', facts, '--only', 'os.hostname'], { env: env() });
  assert.match(tty.stdout, /os\.hostname/);
  assert.doesNotMatch(tty.stdout, /kernel\./);
});

test('--from-facts refuses a damaged file and live-only flags, exit 2', async () => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ apiVersion: 'astrago.io/v1', kind: 'PreflightFacts', nodes: 'x' }));
  const r = await runBinary(['preflight', '--from-facts', bad], { env: env() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.json/);
  const notJson = join(dir, 'not.json');
  writeFileSync(notJson, '{');
  assert.equal((await runBinary(['preflight', '--from-facts', notJson], { env: env() })).code, 2);
  const mixed = await runBinary(['preflight', '--from-facts', bad, '--site', site], { env: env() });
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /takes no --site/);
  // A typo in --only would judge nothing and say "Ready": refused as on a live run.
  const good = join(dir, 'facts.json');
  for (const flag of ['--only', '--skip']) {
    const typo = await runBinary(['preflight', '--from-facts', good, flag, 'os.hostnmae'], { env: env() });
    assert.equal(typo.code, 2, typo.stdout + typo.stderr);
    assert.match(typo.stderr, new RegExp(`preflight: ${flag} 'os\\.hostnmae' names no check`));
    assert.equal(typo.stdout, '');
  }
});
