// kernel.sysctl: the profile's kernel parameters, now (/proc/sys) and at boot
// (/etc/sysctl.d, /etc/sysctl.conf, /usr/lib/sysctl.d).
import { defineCheck, type Judgement } from '../../types.ts';
import { list, read } from './host-io.ts';

export interface SysctlFacts {
  /** key -> current value, null when the key does not exist (module missing). */
  current: Record<string, string | null>;
  /** key -> value set by the boot-time configuration files (last one wins), when any. */
  persisted: Record<string, string>;
}

const norm = (v: string) => v.trim().split(/\s+/).join(' ');

/** Parses sysctl.conf syntax: "key = value", "key=value", '#'/';' comments, '-' prefix. */
export function parseSysctlConf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim().replace(/^-/, '').replace(/\//g, '.');
    out[key] = norm(line.slice(eq + 1));
  }
  return out;
}

const SYSCTL_DIRS = ['/usr/lib/sysctl.d', '/run/sysctl.d', '/etc/sysctl.d'];

export const kernelSysctl = defineCheck<SysctlFacts>({
  id: 'kernel.sysctl',
  category: 'os',
  title: 'Kernel parameters (sysctl)',
  gather: (ctx) => ({
    files: [...Object.keys(ctx.profile.kernel.sysctls).map((k) => `/proc/sys/${k.replace(/\./g, '/')}`), '/etc/sysctl.conf'],
    dirs: SYSCTL_DIRS,
    globs: SYSCTL_DIRS.map((d) => `${d}/*.conf`),
  }),
  async probe(ctx) {
    const keys = Object.keys(ctx.profile.kernel.sysctls);
    const current: Record<string, string | null> = {};
    await Promise.all(
      keys.map(async (k) => {
        const v = await read(ctx, `/proc/sys/${k.replace(/\./g, '/')}`);
        current[k] = v === null ? null : norm(v);
      }),
    );
    // systemd-sysctl order: /usr/lib, /run, /etc/sysctl.d by file name, then /etc/sysctl.conf.
    const byName = new Map<string, string>();
    for (const dir of SYSCTL_DIRS) {
      for (const f of (await list(ctx, dir)) ?? []) if (f.endsWith('.conf')) byName.set(f, `${dir}/${f}`);
    }
    const files = [...[...byName.keys()].sort().map((n) => byName.get(n)!), '/etc/sysctl.conf'];
    const persisted: Record<string, string> = {};
    for (const file of files) {
      const text = await read(ctx, file);
      if (text) Object.assign(persisted, parseSysctlConf(text));
    }
    const wanted: Record<string, string> = {};
    for (const k of keys) if (persisted[k] !== undefined) wanted[k] = persisted[k]!;
    return { current, persisted: wanted };
  },
  judge(f, ctx): Judgement {
    const want = ctx.profile.kernel.sysctls;
    const keys = Object.keys(want);
    if (keys.length === 0) return { status: 'pass', message: 'the profile requires no kernel parameters', facts: { ...f } };
    const wrong = keys.filter((k) => f.current[k] !== norm(want[k]!));
    const volatile = keys.filter((k) => !wrong.includes(k) && f.persisted[k] !== norm(want[k]!));
    const facts = { ...f, required: want };
    const conf = keys.map((k) => `${k} = ${want[k]}`).join('\n');
    const fix = `cat > /etc/sysctl.d/99-kubernetes.conf <<'EOF'\n${conf}\nEOF\nsysctl --system`;
    if (wrong.length) {
      const bridge = wrong.some((k) => k.startsWith('net.bridge.') && f.current[k] === null);
      return {
        status: 'fail',
        message: `kernel parameters not as required: ${wrong.map((k) => `${k} = ${f.current[k] ?? '(absent)'} (want ${want[k]})`).join(', ')}`,
        remediation: (bridge ? 'modprobe br_netfilter && echo br_netfilter > /etc/modules-load.d/k8s.conf   # net.bridge.* exists only with br_netfilter\n' : '') + fix,
        facts,
      };
    }
    if (volatile.length) {
      return {
        status: 'warn',
        message: `set now but not in /etc/sysctl.d or /etc/sysctl.conf (lost at reboot): ${volatile.map((k) => `${k} = ${want[k]}`).join(', ')}`,
        remediation: fix,
        facts,
      };
    }
    return { status: 'pass', message: keys.map((k) => `${k} = ${f.current[k]}`).join(', '), facts };
  },
});
