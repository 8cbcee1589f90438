// time.sync: a time sync service runs (chronyd, ntpd, systemd-timesyncd) and,
// when it can be measured, the clock offset is within the profile's limit.
import { defineCheck, type Judgement } from '../../types.ts';
import { mergeGathers } from '../../hosts/batch.ts';
import { PROCESS_NAMES, processNames, run, SYSTEMD_RUN, unitStates, unitStatesGather } from '../kernel/host-io.ts';

export interface TimeFacts {
  units: Record<string, string>;
  processes: string[];
  /** timedatectl: NTPSynchronized=yes|no. */
  synchronized: boolean | null;
  /** Offset from the reference in ms, and where it came from. */
  offsetMs: number | null;
  offsetSource?: string;
}

const DAEMONS = ['chronyd', 'ntpd', 'systemd-timesyn', 'openntpd', 'timesyncd'];

/** chronyc tracking: "System time : 0.000123 seconds slow of NTP time". */
export function parseChronyTracking(text: string): number | null {
  const m = /System time\s*:\s*([\d.]+)\s+seconds\s+(fast|slow)/i.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * 1e9) / 1e6 * (m[2]!.toLowerCase() === 'slow' ? -1 : 1);
}

/** timedatectl timesync-status: "Offset: -1.234ms" / "+12us" / "+1.5s". */
export function parseTimesyncStatus(text: string): number | null {
  const m = /Offset:\s*([+-]?[\d.]+)\s*(us|µs|ms|s)\b/.exec(text);
  if (!m) return null;
  const v = Number(m[1]);
  return m[2] === 's' ? v * 1000 : m[2] === 'ms' ? v : v / 1000;
}

/** ntpq -pn: the line of the selected peer ('*') has the offset (ms) in column 9. */
export function parseNtpq(text: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith('*'));
  const cols = line?.trim().split(/\s+/);
  return cols && cols.length >= 10 ? Number(cols[8]) : null;
}

const TIME_UNITS = ['chronyd', 'chrony', 'ntpd', 'ntp', 'systemd-timesyncd'];

export const timeSync = defineCheck<TimeFacts>({
  id: 'time.sync',
  category: 'os',
  title: 'Time is synchronised',
  // ntpq is left out: it is asked only when ntpd runs, and may wait for its own timeout.
  gather: () =>
    mergeGathers([
      unitStatesGather(TIME_UNITS),
      {
        commands: [
          PROCESS_NAMES,
          { argv: ['timedatectl', 'show', '-p', 'NTPSynchronized', '--value'], onlyIfExists: SYSTEMD_RUN },
          ['chronyc', '-n', 'tracking'],
          { argv: ['timedatectl', 'timesync-status'], onlyIfExists: SYSTEMD_RUN },
        ],
      },
    ]),
  async probe(ctx) {
    const units = await unitStates(ctx, TIME_UNITS);
    const processes = ((await processNames(ctx)) ?? []).filter((p) => DAEMONS.some((d) => p.startsWith(d)));
    let synchronized: boolean | null = null;
    if (Object.keys(units).length) {
      const s = await run(ctx, ['timedatectl', 'show', '-p', 'NTPSynchronized', '--value']);
      if (s && s.code === 0 && s.stdout.trim()) synchronized = s.stdout.trim() === 'yes';
    }
    let offsetMs: number | null = null;
    let offsetSource: string | undefined;
    // Each tool asks its own daemon: ask those seen running (when none is seen, the two
    // that fail at once without one; ntpq may wait for its timeout, so only with ntpd).
    const seen = [...Object.entries(units).filter(([, s]) => s === 'active').map(([u]) => u), ...processes];
    const runs = (prefix: string) => seen.some((s) => s.startsWith(prefix));
    const systemd = Object.keys(units).length > 0;
    const tries: [string[], (t: string) => number | null, string, boolean][] = [
      [['chronyc', '-n', 'tracking'], parseChronyTracking, 'chronyc tracking', !seen.length || runs('chrony')],
      [['timedatectl', 'timesync-status'], parseTimesyncStatus, 'timedatectl timesync-status', systemd && (!seen.length || runs('systemd-timesyn') || runs('timesyncd'))],
      [['ntpq', '-pn'], parseNtpq, 'ntpq -pn', runs('ntp')],
    ];
    for (const [argv, parse, name, wanted] of tries) {
      if (!wanted) continue;
      const r = await run(ctx, argv);
      const v = r && r.code === 0 ? parse(r.stdout) : null;
      if (v !== null && Number.isFinite(v)) {
        offsetMs = Math.round(v * 1000) / 1000;
        offsetSource = name;
        break;
      }
    }
    return { units, processes, synchronized, offsetMs, offsetSource };
  },
  judge(f, ctx): Judgement {
    const facts = { ...f };
    const activeUnits = Object.entries(f.units).filter(([, s]) => s === 'active').map(([u]) => u);
    const running = [...new Set([...activeUnits, ...f.processes])];
    const max = ctx.profile.time.maxOffsetMs;
    const ntp = ctx.site?.network?.ntp ?? [];
    const install =
      `install and enable chrony: apt install -y chrony (or dnf install -y chrony); systemctl enable --now chronyd (Debian: chrony)` +
      (ntp.length ? `\npoint it at the site NTP servers: printf 'server %s iburst\\n' ${ntp.join(' ')} > /etc/chrony/sources.d/site.sources (RHEL: add to /etc/chrony.conf); chronyc reload sources` : '');
    if (running.length === 0) {
      return { status: 'fail', message: 'no time sync service runs (chronyd, ntpd, systemd-timesyncd): clocks will drift apart, breaking TLS and etcd', remediation: install, facts };
    }
    if (f.offsetMs !== null && Math.abs(f.offsetMs) > max) {
      return { status: 'fail', message: `clock is off by ${f.offsetMs} ms (${f.offsetSource}; limit ${max} ms)`, remediation: 'step the clock once: chronyc makestep (chrony) or systemctl restart systemd-timesyncd; check the NTP servers are reachable (UDP 123)', facts };
    }
    if (f.synchronized === false) {
      return { status: 'warn', message: `${running.join(', ')} runs but the clock is not synchronised yet (timedatectl NTPSynchronized=no)`, remediation: 'check the NTP servers answer: chronyc sources -v (UDP 123 must be open)', facts };
    }
    const off = f.offsetMs !== null ? `, offset ${f.offsetMs} ms (${f.offsetSource})` : ', offset not measurable here';
    return { status: 'pass', message: `${running.join(', ')} running${off}`, facts };
  },
});
