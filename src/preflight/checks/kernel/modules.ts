// kernel.modules: each required module is loaded or built into the kernel.
// Many kernels (and this CI machine) have no loadable modules at all, so
// "built in" is found from several places, not only /proc/modules.
import { defineCheck, type Judgement } from '../../types.ts';
import { list, read, run } from './host-io.ts';

/** Kernel config symbols and /proc traces that prove a feature is present. */
const KNOWN: Record<string, { config: string; procPath?: string; filesystem?: string }> = {
  br_netfilter: { config: 'CONFIG_BRIDGE_NETFILTER', procPath: '/proc/sys/net/bridge' },
  overlay: { config: 'CONFIG_OVERLAY_FS', filesystem: 'overlay' },
  nf_conntrack: { config: 'CONFIG_NF_CONNTRACK', procPath: '/proc/sys/net/netfilter' },
};

export interface ModuleFacts {
  release: string | null;
  /** Names in /proc/modules; null when the kernel has no loadable modules. */
  loaded: string[] | null;
  /** Modules with a /sys/module/NAME directory. */
  sysModule: string[];
  /** Modules named in /lib/modules/RELEASE/modules.builtin; null when absent. */
  builtinList: string[] | null;
  /** CONFIG_X=y|m from /proc/config.gz or /boot/config-RELEASE. */
  config: Record<string, string>;
  /** Modules whose /proc trace exists (e.g. /proc/sys/net/bridge). */
  procTrace: string[];
  /** Filesystems in /proc/filesystems. */
  filesystems: string[] | null;
  /** Modules listed in /etc/modules-load.d/*.conf or /etc/modules (loaded at boot). */
  loadAtBoot: string[];
  wanted: string[];
}

export type ModuleState = 'loaded' | 'builtin' | 'module-not-loaded' | 'missing';

export function moduleState(name: string, f: ModuleFacts): { state: ModuleState; evidence: string } {
  const norm = (s: string) => s.replace(/-/g, '_');
  if (f.loaded?.some((m) => norm(m) === norm(name))) return { state: 'loaded', evidence: '/proc/modules' };
  const known = KNOWN[name];
  if (f.builtinList?.some((m) => norm(m) === norm(name))) return { state: 'builtin', evidence: 'modules.builtin' };
  if (known && f.config[known.config] === 'y') return { state: 'builtin', evidence: `${known.config}=y` };
  if (known?.filesystem && f.filesystems?.includes(known.filesystem)) return { state: 'builtin', evidence: '/proc/filesystems' };
  if (f.procTrace.includes(name)) return { state: 'builtin', evidence: known?.procPath ?? '/proc' };
  // /sys/module/NAME exists for built-ins with parameters too; not loaded as a module -> built in.
  if (f.sysModule.includes(name)) return { state: 'builtin', evidence: `/sys/module/${name}` };
  if (known && f.config[known.config] === 'm') return { state: 'module-not-loaded', evidence: `${known.config}=m` };
  return { state: 'missing', evidence: 'no trace in /proc/modules, /sys/module, modules.builtin, kernel config' };
}

function moduleNames(text: string | null): string[] | null {
  if (text === null) return null;
  return text.split('\n').map((l) => l.split(/\s+/)[0]!).filter(Boolean);
}

const configSymbols = (modules: string[]) => modules.map((m) => KNOWN[m]?.config).filter((x): x is string => !!x);

/** The kernel config lines for these symbols, from /proc/config.gz or /boot. */
const kernelConfigGrep = (symbols: string[]) => {
  const re = `'^(${symbols.join('|')})='`;
  // Few processes: a node of the fleet runs this in its batch.
  return ['sh', '-c', `if [ -r /proc/config.gz ]; then zcat /proc/config.gz | grep -E ${re}; else read -r r </proc/sys/kernel/osrelease && grep -E ${re} "/boot/config-$r"; fi 2>/dev/null`];
};

export const kernelModules = defineCheck<ModuleFacts>({
  id: 'kernel.modules',
  category: 'os',
  title: 'Kernel modules',
  gather: (ctx) => {
    const wanted = ctx.profile.kernel.modules;
    const symbols = configSymbols(wanted);
    return {
      files: ['/proc/sys/kernel/osrelease', '/proc/modules', '/proc/filesystems', '/etc/modules'],
      dirs: [...wanted.map((m) => `/sys/module/${m}`), ...wanted.map((m) => KNOWN[m]?.procPath).filter((p): p is string => !!p), '/etc/modules-load.d'],
      // The running kernel's list is among them (its release is only known once read).
      globs: ['/etc/modules-load.d/*.conf', '/lib/modules/*/modules.builtin'],
      commands: symbols.length ? [kernelConfigGrep(symbols)] : [],
    };
  },
  async probe(ctx) {
    const wanted = ctx.profile.kernel.modules;
    const release = (await read(ctx, '/proc/sys/kernel/osrelease'))?.trim() || null;
    const [loadedText, builtinText, fsText] = await Promise.all([
      read(ctx, '/proc/modules'),
      release ? read(ctx, `/lib/modules/${release}/modules.builtin`) : Promise.resolve(null),
      read(ctx, '/proc/filesystems'),
    ]);
    const sysModule: string[] = [];
    const procTrace: string[] = [];
    await Promise.all(
      wanted.map(async (m) => {
        if ((await list(ctx, `/sys/module/${m}`)) !== null) sysModule.push(m);
        const p = KNOWN[m]?.procPath;
        if (p && (await list(ctx, p)) !== null) procTrace.push(m);
      }),
    );
    const symbols = configSymbols(wanted);
    const config: Record<string, string> = {};
    if (symbols.length) {
      const r = await run(ctx, kernelConfigGrep(symbols));
      for (const line of r?.stdout.split('\n') ?? []) {
        const m = /^(CONFIG_\w+)=(\w+)/.exec(line);
        if (m) config[m[1]!] = m[2]!;
      }
    }
    const loadAtBoot: string[] = [];
    const dir = (await list(ctx, '/etc/modules-load.d')) ?? [];
    const files = [...dir.filter((f) => f.endsWith('.conf')).map((f) => `/etc/modules-load.d/${f}`), '/etc/modules'];
    for (const file of files) {
      const text = await read(ctx, file);
      for (const line of text?.split('\n') ?? []) {
        const name = line.replace(/[#;].*$/, '').trim();
        if (name) loadAtBoot.push(name);
      }
    }
    return {
      release,
      loaded: moduleNames(loadedText),
      sysModule: sysModule.sort(),
      builtinList: builtinText === null ? null : builtinText.split('\n').map((l) => l.trim().split('/').pop()!.replace(/\.ko(\.\w+)?$/, '')).filter(Boolean),
      config,
      procTrace: procTrace.sort(),
      filesystems: fsText === null ? null : fsText.split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean),
      loadAtBoot: [...new Set(loadAtBoot)],
      wanted,
    };
  },
  judge(f): Judgement {
    const states = Object.fromEntries(f.wanted.map((m) => [m, moduleState(m, f)]));
    const facts = { release: f.release, modules: states, loadAtBoot: f.loadAtBoot };
    const missing = f.wanted.filter((m) => ['missing', 'module-not-loaded'].includes(states[m]!.state));
    const notPersistent = f.wanted.filter((m) => states[m]!.state === 'loaded' && !f.loadAtBoot.includes(m));
    const summary = f.wanted.map((m) => `${m}: ${states[m]!.state}`).join(', ');
    if (f.wanted.length === 0) return { status: 'pass', message: 'the profile requires no kernel modules', facts };
    if (missing.length) {
      const absent = missing.filter((m) => states[m]!.state === 'missing');
      return {
        status: 'fail',
        message: `kernel modules not available: ${missing.map((m) => `${m} (${states[m]!.state === 'missing' ? 'not in this kernel' : 'not loaded'})`).join(', ')}; ${summary}`,
        remediation:
          `modprobe ${missing.join(' && modprobe ')}\n` +
          `printf '%s\\n' ${missing.join(' ')} > /etc/modules-load.d/k8s.conf   # load at every boot` +
          (absent.length ? `\n# ${absent.join(', ')}: no module and not built in; install the kernel's extra modules package (e.g. linux-modules-extra-$(uname -r))` : ''),
        facts,
      };
    }
    if (notPersistent.length) {
      return {
        status: 'warn',
        message: `${notPersistent.join(', ')} loaded now but not listed in /etc/modules-load.d: gone after a reboot; ${summary}`,
        remediation: `printf '%s\\n' ${notPersistent.join(' ')} > /etc/modules-load.d/k8s.conf`,
        facts,
      };
    }
    return { status: 'pass', message: summary, facts };
  },
});
