// Fan-out by another engine: Debian's ansible-playbook runs docs/ansible/preflight.yml against
// three real sshd "nodes" on loopback (each its own hostname through a UTS namespace): the
// binary is copied to each, runs there, its JSON report is fetched, and `report merge`
// makes one site report of them. Hostnames are judged again across the nodes (two collide
// case-insensitively); the port matrix and clock skew are skipped with the reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/process.ts';
import { createLoginUser, makeKey, startSshd, type Sshd } from '../support/sshd.ts';
import { BINARY, ensureBinary, ROOT, runBinary } from '../support/run-binary.ts';
import { reportSchema } from '../../src/schema/report.ts';

const pid = process.pid;
const NODES = [
  { name: 'n1', address: '127.0.21.1', hostname: 'mg-a', roles: 'control-plane' },
  { name: 'n2', address: '127.0.21.2', hostname: 'mg-b', roles: 'worker' },
  { name: 'n3', address: '127.0.21.3', hostname: 'MG-A', roles: 'worker' },
];
let dir: string;
let login: { name: string; remove(): void };
const sshds: Sshd[] = [];

before(async () => {
  ensureBinary();
  dir = mkdtempSync(join(tmpdir(), 'ac-fleet-ansible-'));
  chmodSync(dir, 0o755);
  login = createLoginUser(`ac${pid}u`, dir);
  const key = makeKey(join(dir, 'id_ed25519'));
  for (const n of NODES) {
    mkdirSync(join(dir, n.name));
    sshds.push(await startSshd({ dir: join(dir, n.name), address: n.address, ports: [await freePort(n.address)], authorizedKeys: [key.publicKey], hostname: n.hostname }));
    // The node's own directory: the binary and its report go there (written as the login user).
    mkdirSync(join(dir, 'nodes', n.name), { recursive: true });
    chmodSync(join(dir, 'nodes', n.name), 0o777);
  }
  writeFileSync(join(dir, 'known_hosts'), sshds.map((s) => s.knownHostsLine()).join('\n') + '\n');
  const hosts = NODES.map(
    (n, i) =>
      `${n.name} ansible_host=${n.address} ansible_port=${sshds[i]!.ports[0]} astrago_dir=${join(dir, 'nodes', n.name)} astrago_roles=${n.roles} ansible_remote_tmp=/tmp/ac-ansible-${pid}-${n.name}`,
  );
  writeFileSync(
    join(dir, 'inventory.ini'),
    [
      '[nodes]',
      ...hosts,
      '[nodes:vars]',
      `ansible_user=${login.name}`,
      `ansible_ssh_private_key_file=${key.privateKeyFile}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${join(dir, 'known_hosts')} -o StrictHostKeyChecking=yes'`,
      'ansible_python_interpreter=/usr/bin/python3',
      '',
    ].join('\n'),
  );
});
after(async () => {
  await Promise.all(sshds.map((s) => s.stop()));
  login?.remove();
  for (const n of NODES) rmSync(`/tmp/ac-ansible-${pid}-${n.name}`, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

test('ansible-playbook runs the binary on every node and merges the reports into one site report', { timeout: 300_000 }, async () => {
  execFileSync('ansible-playbook', ['--version'], { stdio: 'ignore' }); // absent: the test fails here, it does not pass
  const reports = join(dir, 'reports');
  const md = join(dir, 'site-report.md');
  const r = spawnSync(
    'ansible-playbook',
    [
      '-i', join(dir, 'inventory.ini'),
      join(ROOT, 'docs', 'ansible', 'preflight.yml'),
      '-e', `astrago_binary=${BINARY}`,
      '-e', `astrago_reports=${reports}`,
      '-e', `astrago_merge_output=${md}`,
      '-e', 'astrago_args="--only os.,kernel.version --timeout 10s"',
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-local') }, timeout: 280_000 },
  );
  assert.equal(r.status, 0, `ansible-playbook: ${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  assert.deepEqual(readdirSync(reports).sort(), ['n1.json', 'n2.json', 'n3.json'], 'one report fetched per node');
  // Each node checked itself: its report names the node by its own hostname.
  const hostnames = readdirSync(reports).map((f) => reportSchema.parse(JSON.parse(readFileSync(join(reports, f), 'utf8'))).nodes?.[0]?.name);
  assert.deepEqual(hostnames.sort(), ['MG-A', 'mg-a', 'mg-b']);

  const markdown = readFileSync(md, 'utf8');
  assert.match(markdown, /## Findings/);
  assert.match(markdown, /site\.hostnames/);

  const j = await runBinary(['report', 'merge', ...readdirSync(reports).map((f) => join(reports, f)), '--format', 'json'], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(j.code, 1, j.stderr);
  const merged = reportSchema.parse(JSON.parse(j.stdout));
  assert.deepEqual(merged.nodes?.map((n) => n.name).sort(), ['MG-A', 'mg-a', 'mg-b']);
  assert.equal(merged.nodes?.find((n) => n.name === 'mg-a')?.roles[0], 'control-plane');
  const dup = merged.results.filter((x) => x.id.startsWith('site.hostnames'));
  assert.equal(dup.length, 1);
  assert.equal(dup[0]!.status, 'fail');
  assert.match(dup[0]!.message, /mg-a, MG-A share the hostname 'mg-a'|MG-A, mg-a share the hostname 'mg-a'/);
  for (const id of ['site.port-matrix', 'site.clock-skew']) {
    const x = merged.results.find((y) => y.id === id);
    assert.equal(x?.status, 'skip', id);
    assert.match(x!.message, /probes between the nodes at run time/);
  }
  // Node results are the nodes' own, one per node and check.
  assert.equal(merged.results.filter((x) => x.id === 'kernel.version').length, 3);
});

test('report merge refuses two reports of one node and a file that is no report (exit 2)', async () => {
  const a = join(dir, 'a.json');
  const r = await runBinary(['--only', 'os.hostname', '--format', 'json', '--output', a], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const b = join(dir, 'b.json');
  writeFileSync(b, readFileSync(a));
  const twice = await runBinary(['report', 'merge', a, b], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /b\.json.*is also in .*a\.json/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"kind": "Site"}');
  const no = await runBinary(['report', 'merge', a, bad], { env: { PATH: process.env.PATH, HOME: dir } });
  assert.equal(no.code, 2);
  assert.match(no.stderr, /bad\.json/);
});
