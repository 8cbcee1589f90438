// Facts of what the driver needs from the platform: kernel headers for the running
// kernel (or a package repository the driver container can fetch them from),
// Secure Boot (an unsigned module does not load under it), and the IOMMU (passthrough).
import type { Gather, ProbeContext } from '../../../types.ts';
import { list, read, run } from '../../kernel/host-io.ts';
import { kernelRelease, moduleLoaded, nodeGather, readNodeOs, type NodeOs } from './node.ts';

export interface Repo {
  /** The file that configures it. */
  file: string;
  url: string;
  /** Not a well-known internet mirror: a site-local repository (or file://). */
  local: boolean;
}

export interface KernelBuildFacts {
  os: NodeOs;
  kernel: string | null;
  /** /lib/modules/RELEASE/build lists (headers or devel package of the running kernel). */
  headers: boolean;
  repos: Repo[];
}

const APT_FILES = ['/etc/apt/sources.list'];
const REPO_DIRS = ['/etc/apt/sources.list.d', '/etc/yum.repos.d'];

export const kernelBuildGather = (): Gather =>
  nodeGather({ files: APT_FILES, dirs: REPO_DIRS, globs: ['/etc/apt/sources.list.d/*.list', '/etc/apt/sources.list.d/*.sources', '/etc/yum.repos.d/*.repo'] });

/** Hosts of public distribution and vendor mirrors: an air-gapped node cannot reach them. */
const PUBLIC = /(^|\.)(ubuntu\.com|debian\.org|canonical\.com|rockylinux\.org|redhat\.com|centos\.org|almalinux\.org|fedoraproject\.org|nvidia\.com|docker\.com|microsoft\.com|launchpad\.net|launchpadcontent\.net|epel\.cloud)$/i;

/** The host part of a repository URL ('' for file: and cdrom:). */
export const repoHost = (url: string) => /^[a-z+]+:\/\/(?:[^@/]*@)?([^/:]+)/i.exec(url)?.[1] ?? '';

export function isLocalRepo(url: string): boolean {
  if (/^(file|cdrom):/i.test(url)) return true;
  const host = repoHost(url);
  return host ? !PUBLIC.test(host) : false;
}

/** One-line apt sources ("deb [opts] URL suite ...") and deb822 ("URIs:", "Enabled: no"). */
export function parseAptSources(text: string, file: string): Repo[] {
  const urls: string[] = [];
  if (file.endsWith('.sources')) {
    for (const stanza of text.split(/\n\s*\n/)) {
      if (/^Enabled:\s*no\s*$/im.test(stanza)) continue;
      if (!/^Types:.*\bdeb\b/im.test(stanza)) continue;
      urls.push(...(/^URIs:\s*(.+)$/im.exec(stanza)?.[1]?.split(/\s+/) ?? []));
    }
  } else {
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
      if (m) urls.push(m[1]!);
    }
  }
  return urls.filter(Boolean).map((url) => ({ file, url, local: isLocalRepo(url) }));
}

/** yum/dnf .repo sections that are enabled: baseurl (first), else mirrorlist/metalink. */
export function parseYumRepos(text: string, file: string): Repo[] {
  const out: Repo[] = [];
  for (const section of text.split(/^\s*\[/m).slice(1)) {
    if (/^\s*enabled\s*=\s*(0|false|no)\s*$/im.test(section)) continue;
    const url = /^\s*(?:baseurl|mirrorlist|metalink)\s*=\s*(\S+)/im.exec(section)?.[1];
    if (url) out.push({ file, url, local: isLocalRepo(url) });
  }
  return out;
}

export async function probeKernelBuild(ctx: ProbeContext): Promise<KernelBuildFacts> {
  const [os, kernel] = await Promise.all([readNodeOs(ctx), kernelRelease(ctx)]);
  const headers = kernel ? (await list(ctx, `/lib/modules/${kernel}/build`)) !== null : false;
  const files = [...APT_FILES];
  for (const dir of REPO_DIRS) {
    for (const n of (await list(ctx, dir)) ?? []) if (/\.(list|sources|repo)$/.test(n)) files.push(`${dir}/${n}`);
  }
  const repos: Repo[] = [];
  for (const file of files) {
    const text = await read(ctx, file);
    if (text === null) continue;
    repos.push(...(file.endsWith('.repo') ? parseYumRepos(text, file) : parseAptSources(text, file)));
  }
  return { os, kernel, headers, repos };
}

export const SECURE_BOOT_VAR = '/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c';

export interface SecureBootFacts {
  os: NodeOs;
  /** Booted through UEFI (/sys/firmware/efi exists). */
  uefi: boolean;
  /** Enabled, disabled, or unknown (variable unreadable and no mokutil). */
  state: 'enabled' | 'disabled' | 'unknown';
  /** efivars or mokutil */
  source?: string;
  nvidiaLoaded: boolean;
}

export const secureBootGather = (): Gather => nodeGather({ dirs: ['/sys/firmware/efi'], files: [SECURE_BOOT_VAR], commands: [['mokutil', '--sb-state']] });

/** The variable's bytes: 4 attribute bytes, then 1 (on) or 0 (off). */
export function secureBootFromVar(text: string): 'enabled' | 'disabled' | undefined {
  if (text.length < 5) return undefined;
  const v = text.charCodeAt(4);
  return v === 1 ? 'enabled' : v === 0 ? 'disabled' : undefined;
}

export function secureBootFromMokutil(out: string): 'enabled' | 'disabled' | undefined {
  if (/SecureBoot enabled/i.test(out)) return 'enabled';
  if (/SecureBoot disabled|doesn't support Secure Boot|not supported/i.test(out)) return 'disabled';
  return undefined;
}

export async function probeSecureBoot(ctx: ProbeContext): Promise<SecureBootFacts> {
  const [os, efi, nvidiaLoaded] = await Promise.all([readNodeOs(ctx), list(ctx, '/sys/firmware/efi'), moduleLoaded(ctx, 'nvidia')]);
  if (efi === null) return { os, uefi: false, state: 'disabled', source: 'no /sys/firmware/efi (BIOS boot)', nvidiaLoaded };
  const raw = await read(ctx, SECURE_BOOT_VAR, 64);
  const fromVar = raw === null ? undefined : secureBootFromVar(raw);
  if (fromVar) return { os, uefi: true, state: fromVar, source: 'efivars', nvidiaLoaded };
  const r = await run(ctx, ['mokutil', '--sb-state'], { sudo: false });
  const fromMok = r ? secureBootFromMokutil(`${r.stdout}\n${r.stderr}`) : undefined;
  return { os, uefi: true, state: fromMok ?? 'unknown', source: fromMok ? 'mokutil --sb-state' : undefined, nvidiaLoaded };
}

export interface IommuFacts {
  os: NodeOs;
  cmdline: string[];
  /** Entries of /sys/class/iommu (dmar0, ivhd0): an IOMMU the kernel drives. */
  units: string[];
  groups: number;
  vfioPci: boolean;
  cpuVendor?: string;
}

export const iommuGather = (): Gather => nodeGather({ files: ['/proc/cmdline', '/proc/cpuinfo'], dirs: ['/sys/class/iommu', '/sys/kernel/iommu_groups', '/sys/module/vfio_pci'] });

export async function probeIommu(ctx: ProbeContext): Promise<IommuFacts> {
  const [os, cmdline, units, groups, vfioPci, cpuinfo] = await Promise.all([
    readNodeOs(ctx),
    read(ctx, '/proc/cmdline'),
    list(ctx, '/sys/class/iommu'),
    list(ctx, '/sys/kernel/iommu_groups'),
    moduleLoaded(ctx, 'vfio_pci'),
    read(ctx, '/proc/cpuinfo', 64 * 1024),
  ]);
  return {
    os,
    cmdline: (cmdline ?? '').split(/\s+/).filter((w) => /^(intel_iommu|amd_iommu|iommu)=/.test(w)),
    units: units ?? [],
    groups: groups?.length ?? 0,
    vfioPci,
    cpuVendor: /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo ?? '')?.[1],
  };
}
