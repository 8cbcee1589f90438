// Fleet preflight over SSH: wall time and peak memory of the built binary for
// 1, 10 and 50 nodes (FLEET_SIZES=100,200,500 FLEET_SETS=fleet for the large-fleet budgets of
// issue #21: every result present, nothing timed out, <= 25 ms tool CPU per node, peak RSS
// < 1 GiB), each node a real OpenSSH sshd of its own (one process per
// node, 127.0.1.N on a free port, its own host key and, through a UTS namespace,
// its own hostname), logged in as a throw-away user whose shell is /bin/sh.
// Two check sets:
// - fleet: --only ssh.,site.,os.hostname: connection, sudo, hostnames, clock skew and
//   the node-to-node port matrix (50 nodes = 2450 probes of port 179) -- the fan-out itself;
// - full: the whole default check set but dns.* (~70 reads per node, most in one batch session).
// Target: 50 nodes < 5 s when all answer, far sub-linear (time(50)/time(1)).
// Caveat: here all 50 "nodes" share this machine's cores, so the nodes' own work
// (sshd sessions, shells, commands) competes with the tool; the CPU time of the tool's
// own process is printed apart (user+sys), as on a real site the nodes work in parallel.
// Peer in the same run, per size: N parallel OpenSSH `ssh node 'hostname; date'` processes
// (connect + one command per node, what a parallel-ssh loop does).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../test/support/process.ts';
import { ensureBinary } from '../test/support/run-binary.ts';
import { createLoginUser, makeKey, startSshd, type Sshd } from '../test/support/sshd.ts';

// FLEET_SIZES=100,200,500 (and FLEET_SETS=fleet) select larger fleets; the default keeps CI short.
const SIZES = (process.env.FLEET_SIZES ?? '1,10,50').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const MAX = Math.max(...SIZES);
/** Budgets per node at scale (issue #21): tool CPU and peak memory. */
const CPU_MS_PER_NODE = 25;
const RSS_LIMIT_MIB = 1024;
/** 127.0.1.1 … 127.0.1.250, then 127.0.2.1 …: loopback addresses of the nodes. */
const addressOf = (n: number) => `127.0.${1 + Math.floor(n / 250)}.${(n % 250) + 1}`;
const bin = ensureBinary();
const user = `acb${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'ac-fleet-bench-'));
chmodSync(dir, 0o755);
const sshds: Sshd[] = [];
let login: { remove(): void } | undefined;

function run(argv: string[]): Promise<{ ms: number; code: number | null; rssMiB?: number; cpuS?: number; stderr: string }> {
  const time = existsSync('/usr/bin/time');
  const full = time ? ['/usr/bin/time', '-f', 'RSS %M CPU %U %S', ...argv] : argv;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, HOME: dir } });
    let stderr = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => {
      const ms = performance.now() - t0;
      const m = /RSS (\d+) CPU ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      resolve({ ms, code, rssMiB: m ? Number(m[1]) / 1024 : undefined, cpuS: m ? Number(m[2]) + Number(m[3]) : undefined, stderr });
    });
  });
}

/** The peer: OpenSSH, one `ssh node 'hostname; date'` process per node, all at once. */
async function peer(n: number): Promise<number> {
  const kh = join(dir, 'known_hosts');
  const sshOpts = (s: Sshd) => ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-i', join(dir, 'id_ed25519'), '-p', String(s.ports[0]), `${user}@${s.address}`, 'hostname; date +%s.%N'];
  const tp = performance.now();
  const codes = await Promise.all(sshds.slice(0, n).map((s) => new Promise<number | null>((res) => spawn('ssh', sshOpts(s), { stdio: 'ignore' }).on('close', res))));
  const ms = performance.now() - tp;
  const ok = codes.filter((c) => c === 0).length;
  if (ok !== n) console.log(`    peer: only ${ok}/${n} OpenSSH runs succeeded`);
  return ms;
}

try {
  login = createLoginUser(user, dir);
  const client = makeKey(join(dir, 'id_ed25519'));
  const t0 = performance.now();
  for (let i = 0; i < MAX; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, MAX - i) }, async (_, k) => {
        const n = i + k;
        const address = addressOf(n);
        const d = join(dir, `n${n}`);
        mkdirSync(d);
        sshds[n] = await startSshd({ dir: d, address, ports: [await freePort(address)], authorizedKeys: [client.publicKey], hostname: `bench-${n}` });
      }),
    );
  }
  console.log(`started ${MAX} sshd (one process per node on 127.0.1.1-${addressOf(MAX - 1)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, sshds.map((s) => s.knownHostsLine()).join('\n') + '\n');

  // dns.* are skipped: on these loopback "nodes" they would send queries for the made-up
  // node names to this machine's resolver (traffic stays on loopback and the test LANs only).
  const ALL_SETS: Record<string, string[]> = { fleet: ['--only', 'ssh.,site.,os.hostname'], full: ['--skip', 'dns.'] };
  const SETS = Object.fromEntries(Object.entries(ALL_SETS).filter(([k]) => !process.env.FLEET_SETS || process.env.FLEET_SETS.split(',').includes(k)));
  const peerMs = new Map<number, number>();
  const rows: { set: string; n: number; ms: number; rssMiB?: number; cpuS?: number }[] = [];
  for (const [set, extra] of Object.entries(SETS)) {
    console.log(`${set} check set${extra.length ? ` (${extra.join(' ')})` : ' (all default checks)'}`);
    for (const n of SIZES) {
      const site = join(dir, `site-${n}.yaml`);
      writeFileSync(
        site,
        stringify({
          apiVersion: 'astrago.io/v1',
          kind: 'Site',
          metadata: { name: `bench-${n}` },
          nodes: sshds.slice(0, n).map((s, i) => ({
            name: `node-${i}`,
            address: s.address,
            roles: [i === 0 ? 'control-plane' : 'worker'],
            ssh: { user, port: s.ports[0], keyFile: client.privateKeyFile, knownHostsFile: kh },
          })),
        }),
      );
      const out = join(dir, `report-${set}-${n}.json`);
      const argv = [bin, '--site', site, '--format', 'json', '--output', out, '--timeout', '10s', ...extra];
      if (n <= 50) await run(argv); // warm-up: page cache, sshd's first sessions (large fleets: their first run is the measure)
      const r = await run(argv);
      const report = JSON.parse(readFileSync(out, 'utf8')) as { nodes: { reachable?: boolean }[]; results: { id: string; status: string; message: string }[] };
      const reached = report.nodes.filter((x) => x.reachable).length;
      const timedOut = report.results.filter((x) => x.status === 'error' && /timed out/.test(x.message)).length;
      const cells = report.results.filter((x) => x.id.startsWith('site.port-matrix')).length;
      const errors = report.results.filter((x) => x.status === 'error').length;
      const cpuPerNode = r.cpuS === undefined ? undefined : (r.cpuS * 1000) / n;
      if (!peerMs.has(n)) peerMs.set(n, await peer(n));
      console.log(
        `  ${String(n).padStart(3)} nodes: ${(r.ms / 1000).toFixed(2)} s wall (${(r.ms / peerMs.get(n)!).toFixed(2)}x the OpenSSH peer), tool CPU ${r.cpuS?.toFixed(2) ?? 'n/a'} s = ${cpuPerNode?.toFixed(1) ?? 'n/a'} ms/node, peak RSS ${r.rssMiB?.toFixed(1) ?? 'n/a'} MiB, ` +
          `${report.results.length} results (${reached}/${n} reached, ${timedOut} timed out, ${errors} error, ${cells} port-matrix results)`,
      );
      if (n >= 100) {
        const ok = (b: boolean) => (b ? 'MET' : 'MISSED');
        console.log(
          `    budgets: every node reached ${ok(reached === n)}; nothing timed out ${ok(timedOut === 0)}; CPU <= ${CPU_MS_PER_NODE} ms/node ${ok(cpuPerNode !== undefined && cpuPerNode <= CPU_MS_PER_NODE)}; peak RSS < 1 GiB ${ok(r.rssMiB !== undefined && r.rssMiB < RSS_LIMIT_MIB)}`,
        );
      }
      if (reached !== n) console.log(`    not all nodes reached: ${r.stderr.slice(0, 500)}`);
      if (timedOut) {
        const ids = new Map<string, number>();
        for (const x of report.results.filter((x) => x.status === 'error' && /timed out/.test(x.message))) ids.set(x.id, (ids.get(x.id) ?? 0) + 1);
        console.log(`    timed out: ${[...ids].map(([id, c]) => `${id} x${c}`).join(', ')}`);
      }
      rows.push({ set, n, ms: r.ms, rssMiB: r.rssMiB, cpuS: r.cpuS });
    }
  }

  for (const [n, ms] of peerMs) console.log(`  peer: ${n} parallel OpenSSH 'ssh node hostname; date': ${(ms / 1000).toFixed(2)} s`);
  const maxPeerMs = peerMs.get(MAX)!;

  for (const set of Object.keys(SETS)) {
    const t1 = rows.find((r) => r.set === set && r.n === Math.min(...SIZES))!;
    const tN = rows.find((r) => r.set === set && r.n === MAX)!;
    console.log(
      `${set}: time(${MAX})/time(${t1.n}) = ${(tN.ms / t1.ms).toFixed(2)} (linear would be ${MAX / t1.n}); time(${MAX}) = ${(tN.ms / maxPeerMs).toFixed(2)}x the OpenSSH peer; ` +
        `${MAX <= 50 ? `target ${MAX} nodes < 5 s: ${tN.ms < 5000 ? 'MET' : 'MISSED'} (${(tN.ms / 1000).toFixed(2)} s); ` : ''}peak RSS ${t1.rssMiB?.toFixed(1)} -> ${tN.rssMiB?.toFixed(1)} MiB`,
    );
  }
} finally {
  await Promise.all(sshds.filter(Boolean).map((s) => s.stop()));
  login?.remove();
  rmSync(dir, { recursive: true, force: true });
}
