// disk.fsync: write+fdatasync latency where etcd will keep its WAL, judged on
// the 99th percentile (etcd wants it under 10 ms). Locally each sample is
// timed natively; on an SSH node one `dd oflag=dsync` run gives the mean only,
// and the result says so.
import { requirementsFor } from '../../roles.ts';
import { needsRoot } from '../../privileges.ts';
import { defineCheck, type Host, type JudgeContext, type Judgement, type ProbeContext } from '../../types.ts';
import { measureFsyncLocal, NotWritableError, RECORD_BYTES } from './fsync-local.ts';

export interface FsyncFacts {
  path: string;
  measuredPath: string;
  fsType?: string;
  writable: boolean;
  reason?: string;
  uid?: number;
  method?: 'fdatasync' | 'dd-dsync';
  samples?: number;
  requestedSamples?: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  meanMs?: number;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Nearest-rank percentile of unsorted samples. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Seconds from dd's summary line: "... copied, 0.52 s, 883 kB/s". */
export function parseDdSeconds(stderr: string): number | undefined {
  const m = /copied,\s*([\d.]+(?:e[-+]?\d+)?)\s*s/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

async function probeRemote(host: Host, dir: string, samples: number, signal: AbortSignal): Promise<Partial<FsyncFacts>> {
  const script = 'f="$1/.astrago-check-fsync-$$"; dd if=/dev/zero of="$f" bs="$2" count="$3" oflag=dsync; rc=$?; rm -f "$f"; exit $rc';
  const r = await host.exec(['sh', '-c', script, 'sh', dir, String(RECORD_BYTES), String(samples)], { signal });
  if (r.code !== 0) {
    if (/Permission denied|Read-only file system/i.test(r.stderr)) return { writable: false, reason: r.stderr.trim().split('\n')[0] };
    throw new Error(`dd failed (exit ${r.code}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }
  const secs = parseDdSeconds(r.stderr);
  if (secs === undefined) throw new Error(`cannot read dd's timing from: ${r.stderr.trim().slice(0, 200)}`);
  return { writable: true, method: 'dd-dsync', samples, meanMs: round((secs * 1000) / samples) };
}

async function probeFsync(ctx: ProbeContext): Promise<FsyncFacts[]> {
  const { host, profile, node, signal, timeoutMs } = ctx;
  const specs = requirementsFor(profile, node.roles).disks.filter((d) => d.fsync);
  const out: FsyncFacts[] = [];
  for (const spec of specs) {
    const st = await host.statFs(spec.path, { signal });
    const base: FsyncFacts = { path: spec.path, measuredPath: st.measuredPath, fsType: st.fsType, writable: true, requestedSamples: profile.disk.fsyncSamples };
    if (host.kind === 'local') {
      try {
        // Leave time for the judgement and the other paths within the check's timeout.
        const s = await measureFsyncLocal(st.measuredPath, profile.disk.fsyncSamples, timeoutMs * 0.6, signal);
        const l = s.latenciesMs;
        out.push({
          ...base,
          method: 'fdatasync',
          samples: l.length,
          p50Ms: round(percentile(l, 50)),
          p99Ms: round(percentile(l, 99)),
          maxMs: round(Math.max(...l)),
          meanMs: round(l.reduce((a, b) => a + b, 0) / l.length),
        });
      } catch (err) {
        if (!(err instanceof NotWritableError)) throw err;
        out.push({ ...base, writable: false, reason: err.message, uid: await host.uid() });
      }
    } else {
      const r = await probeRemote(host, st.measuredPath, profile.disk.fsyncSamples, signal);
      out.push({ ...base, ...r, ...(r.writable === false ? { uid: await host.uid() } : {}) });
    }
  }
  return out;
}

const ETCD_FIO = (dir: string) =>
  `measure with etcd's benchmark: fio --rw=write --ioengine=sync --fdatasync=1 --directory=${dir} --size=22m --bs=2300 --name=etcd-wal`;

export function judgeFsync(all: FsyncFacts[], ctx: JudgeContext): Judgement[] {
  const { fsyncP99WarnMs: warnMs, fsyncP99FailMs: failMs } = ctx.profile.disk;
  return all.map((f) => {
    const id = all.length === 1 ? 'disk.fsync' : `disk.fsync[${f.path}]`;
    const facts = { ...f, warnMs, failMs };
    const at = f.measuredPath === f.path ? f.path : `${f.measuredPath} (${f.path} does not exist yet)`;
    if (!f.writable) {
      if (!ctx.isRoot) return needsRoot(ctx, id, `cannot write a test file in ${f.measuredPath} as uid ${f.uid ?? '?'}`, facts);
      return { id, status: 'error', message: `cannot write a test file in ${f.measuredPath}: ${f.reason ?? 'unknown reason'}`, facts };
    }
    if (!f.samples) return { id, status: 'error', message: `no fsync sample finished within the time limit at ${at}`, facts, remediation: `raise --timeout; ${ETCD_FIO(f.measuredPath)}` };
    const remediation = `put ${f.path} on a local SSD/NVMe disk (not network or shared storage); ${ETCD_FIO(f.measuredPath)}`;
    if (f.method === 'dd-dsync') {
      // Only the mean is known: judge it against the same limits and say that p99 is not measured.
      const m = f.meanMs!;
      const msg = `mean write+sync ${m} ms over ${f.samples} writes of ${RECORD_BYTES} B at ${at} (dd oflag=dsync; p99 needs a local run)`;
      if (m > failMs) return { id, status: 'fail', message: `${msg}; limit ${failMs} ms`, facts, remediation };
      if (m > warnMs) return { id, status: 'warn', message: `${msg}; etcd wants under ${warnMs} ms`, facts, remediation };
      return { id, status: 'pass', message: msg, facts };
    }
    const p99 = f.p99Ms!;
    const partial = f.samples < (f.requestedSamples ?? f.samples) ? ` (time limit reached after ${f.samples} of ${f.requestedSamples})` : '';
    const msg = `fsync p99 ${p99} ms (p50 ${f.p50Ms} ms, max ${f.maxMs} ms) over ${f.samples} writes of ${RECORD_BYTES} B at ${at}${partial}`;
    if (p99 > failMs) return { id, status: 'fail', message: `${msg}; limit ${failMs} ms`, facts, remediation };
    if (p99 > warnMs) return { id, status: 'warn', message: `${msg}; etcd wants under ${warnMs} ms`, facts, remediation };
    return { id, status: 'pass', message: msg, facts };
  });
}

export const fsyncCheck = defineCheck<FsyncFacts[]>({
  id: 'disk.fsync',
  category: 'storage',
  title: 'etcd disk fsync latency',
  appliesTo: (ctx) => requirementsFor(ctx.profile, ctx.node.roles).disks.some((d) => d.fsync),
  gather: (ctx) => ({ statFs: requirementsFor(ctx.profile, ctx.node.roles).disks.filter((d) => d.fsync).map((d) => d.path) }),
  probe: probeFsync,
  judge: judgeFsync,
});

