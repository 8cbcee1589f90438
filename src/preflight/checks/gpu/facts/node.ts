// Node facts the GPU checks share: the distribution (which fix commands apply), the
// running kernel, loaded modules, the NVIDIA kernel module's version, installed
// packages and systemd units. All readable without root: commands run with sudo: false
// even on ssh.sudo nodes, so that the node's batch read answers them.
import type { Gather, GatherCommand, ProbeContext } from '../../../types.ts';
import { list, read, run, SYSTEMD_RUN } from '../../kernel/host-io.ts';
import { OS_RELEASE_FILES, readOsRelease, type OsReleaseFacts } from '../../system/os-release.ts';
import { shQuote } from '../../../hosts/quote.ts';
import { once } from './memo.ts';

/** The families whose fix commands the checks print. */
export type Distro = 'debian' | 'rhel';

export interface NodeOs {
  id?: string;
  versionId?: string;
  prettyName?: string;
  distro?: Distro;
}

export function distroOf(os: Pick<OsReleaseFacts, 'id' | 'idLike'>): Distro | undefined {
  const ids = [os.id, ...(os.idLike ?? [])].filter(Boolean) as string[];
  if (ids.some((i) => ['debian', 'ubuntu'].includes(i))) return 'debian';
  if (ids.some((i) => ['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'ol'].includes(i))) return 'rhel';
  return undefined;
}

export async function readNodeOs(ctx: ProbeContext): Promise<NodeOs> {
  const f = await once(ctx.host, 'os-release', ctx.signal, (signal) => readOsRelease(ctx.host, signal));
  return { id: f.id, versionId: f.versionId, prettyName: f.prettyName, distro: distroOf(f) };
}

export const KERNEL_RELEASE = '/proc/sys/kernel/osrelease';

export async function kernelRelease(ctx: ProbeContext): Promise<string | null> {
  return (await read(ctx, KERNEL_RELEASE))?.trim() || null;
}

/** Names in /proc/modules (null: the kernel has no loadable modules or it is unreadable). */
export async function loadedModules(ctx: ProbeContext): Promise<string[] | null> {
  const text = await read(ctx, '/proc/modules');
  return text === null ? null : text.split('\n').map((l) => l.split(/\s+/)[0]!).filter(Boolean);
}

/** Loaded (in /proc/modules) or present in the kernel (/sys/module/NAME: also built in). */
export async function moduleLoaded(ctx: ProbeContext, name: string): Promise<boolean> {
  if ((await loadedModules(ctx))?.includes(name)) return true;
  return (await list(ctx, `/sys/module/${name}`)) !== null;
}

export const NVIDIA_VERSION_FILES = ['/proc/driver/nvidia/version', '/sys/module/nvidia/version'];
/** Where the GPU Operator's driver container puts the driver's root on the host. */
export const OPERATOR_DRIVER_ROOT = '/run/nvidia/driver';

export interface NvidiaModule {
  loaded: boolean;
  version?: string;
  /** The file that told the version. */
  source?: string;
}

/** "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.90.07  Tue Jun ..." (or "Open Kernel Module"). */
export function parseNvrmVersion(text: string): string | undefined {
  return /Kernel Module(?:\s+for\s+\S+)?\s+(\d+(?:\.\d+)+)/.exec(text)?.[1] ?? /^\s*(\d+(?:\.\d+)+)\s*$/.exec(text)?.[1];
}

export async function readNvidiaModule(ctx: ProbeContext): Promise<NvidiaModule> {
  for (const file of NVIDIA_VERSION_FILES) {
    const text = await read(ctx, file, 4096);
    const version = text === null ? undefined : parseNvrmVersion(text);
    if (version) return { loaded: true, version, source: file };
  }
  return { loaded: await moduleLoaded(ctx, 'nvidia') };
}

export interface Package {
  name: string;
  version: string;
}

export interface Packages {
  manager: 'dpkg' | 'rpm' | 'none';
  installed: Package[];
}

/** One command: the installed packages matching shell-style patterns, by dpkg or rpm. */
export function packageQuery(patterns: string[]): string[] {
  const words = patterns.map(shQuote).join(' ');
  return [
    'sh',
    '-c',
    'if command -v dpkg-query >/dev/null 2>&1; then echo dpkg; ' +
      `dpkg-query -W -f='\${db:Status-Abbrev}|\${Package}|\${Version}\\n' ${words} 2>/dev/null; ` +
      `elif command -v rpm >/dev/null 2>&1; then echo rpm; rpm -qa --qf 'ii |%{NAME}|%{VERSION}-%{RELEASE}\\n' ${words} 2>/dev/null; ` +
      'else echo none; fi; exit 0',
  ];
}

export function parsePackages(stdout: string): Packages {
  const lines = stdout.split('\n');
  const manager = (['dpkg', 'rpm'] as const).find((m) => m === lines[0]?.trim()) ?? 'none';
  const installed: Package[] = [];
  for (const line of lines.slice(1)) {
    const [status, name, version] = line.split('|');
    // dpkg: "ii " installed, "hi " held and installed; "rc " left only its config.
    if (name && version !== undefined && /^[a-z]i/.test(status ?? '')) installed.push({ name: name.trim(), version: version.trim() });
  }
  return { manager, installed: installed.sort((a, b) => a.name.localeCompare(b.name)) };
}

export async function installedPackages(ctx: ProbeContext, patterns: string[]): Promise<Packages> {
  const r = await run(ctx, packageQuery(patterns), { sudo: false });
  return r?.code === 0 ? parsePackages(r.stdout) : { manager: 'none', installed: [] };
}

export interface UnitState {
  /** loaded | not-found | ... ; undefined without systemd */
  load?: string;
  active?: string;
  /** enabled | disabled | masked | static | ... */
  enabled?: string;
}

const unitShow = (unit: string) => ['systemctl', 'show', '-p', 'LoadState,ActiveState,UnitFileState', unit];

export function unitGather(unit: string): GatherCommand {
  return { argv: unitShow(unit), onlyIfExists: SYSTEMD_RUN };
}

export async function readUnit(ctx: ProbeContext, unit: string): Promise<UnitState> {
  if ((await list(ctx, SYSTEMD_RUN)) === null) return {};
  const r = await run(ctx, unitShow(unit), { sudo: false });
  if (!r || r.code !== 0) return {};
  const kv = Object.fromEntries(r.stdout.split('\n').map((l) => l.split('=')).filter((p) => p.length === 2).map(([k, v]) => [k!.trim(), v!.trim()]));
  return { load: kv.LoadState || undefined, active: kv.ActiveState || undefined, enabled: kv.UnitFileState || undefined };
}

/** What the shared readers above read, for a check's gather. */
export function nodeGather(extra: Gather = {}): Gather {
  return {
    ...extra,
    files: [...OS_RELEASE_FILES, KERNEL_RELEASE, '/proc/modules', ...NVIDIA_VERSION_FILES, ...(extra.files ?? [])],
    dirs: [SYSTEMD_RUN, '/sys/module/nvidia', ...(extra.dirs ?? [])],
  };
}
