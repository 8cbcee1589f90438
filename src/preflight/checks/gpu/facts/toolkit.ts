// Facts of the container toolkit check: nvidia-container-toolkit on the host and the
// nvidia runtime in containerd's configuration (config.toml and its conf.d drop-ins,
// where `nvidia-ctk runtime configure` writes).
import type { Gather, ProbeContext } from '../../../types.ts';
import { list, read, run } from '../../kernel/host-io.ts';
import { installedPackages, nodeGather, packageQuery, readNodeOs, type NodeOs, type Package } from './node.ts';

export const TOOLKIT_PACKAGES = ['nvidia-container-toolkit*', 'libnvidia-container*'];
const CONTAINERD_DIR = '/etc/containerd';
const CONTAINERD_CONFIG = `${CONTAINERD_DIR}/config.toml`;
const CONTAINERD_DROPINS = `${CONTAINERD_DIR}/conf.d`;
const WHICH = ['sh', '-c', 'command -v nvidia-ctk; command -v nvidia-container-runtime; exit 0'];

export interface RuntimeEntry {
  file: string;
  /** The runtime table header, e.g. plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia */
  table: string;
  binary?: string;
}

export interface ToolkitFacts {
  os: NodeOs;
  packages: Package[];
  /** Paths of nvidia-ctk / nvidia-container-runtime found on the PATH. */
  binaries: string[];
  /** containerd config files that exist, and whether each could be read. */
  configs: { file: string; readable: boolean }[];
  runtimes: RuntimeEntry[];
  /** default_runtime_name, when a config sets it. */
  defaultRuntime?: string;
}

export const toolkitGather = (): Gather =>
  nodeGather({ files: [CONTAINERD_CONFIG], dirs: [CONTAINERD_DIR, CONTAINERD_DROPINS], globs: [`${CONTAINERD_DROPINS}/*.toml`], commands: [packageQuery(TOOLKIT_PACKAGES), WHICH] });

/** Runtime tables named nvidia* in a containerd TOML file (containerd 1.x and 2.x plugin names). */
export function parseContainerdRuntimes(text: string, file: string): { runtimes: RuntimeEntry[]; defaultRuntime?: string } {
  const runtimes: RuntimeEntry[] = [];
  let current: RuntimeEntry | undefined;
  let defaultRuntime: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const header = /^\[+\s*([^\]]+?)\s*\]+$/.exec(line);
    if (header) {
      // The runtime's table, or its .options sub-table (where BinaryName lives).
      const m = /^(.*\.runtimes\.(?:"nvidia[\w-]*"|'nvidia[\w-]*'|nvidia[\w-]*))(\.options)?$/.exec(header[1]!);
      current = m ? runtimes.find((r) => r.table === m[1]) : undefined;
      if (m && !current) runtimes.push((current = { file, table: m[1]! }));
      continue;
    }
    const bin = /^BinaryName\s*=\s*["']([^"']+)["']/.exec(line);
    if (bin && current) current.binary = bin[1];
    const def = /^default_runtime_name\s*=\s*["']([^"']+)["']/.exec(line);
    if (def) defaultRuntime = def[1];
  }
  return { runtimes, defaultRuntime };
}

export async function probeToolkit(ctx: ProbeContext): Promise<ToolkitFacts> {
  const [os, packages, which, dir, dropins] = await Promise.all([
    readNodeOs(ctx),
    installedPackages(ctx, TOOLKIT_PACKAGES),
    run(ctx, WHICH, { sudo: false }),
    list(ctx, CONTAINERD_DIR),
    list(ctx, CONTAINERD_DROPINS),
  ]);
  const files = [...(dir?.includes('config.toml') ? [CONTAINERD_CONFIG] : []), ...(dropins ?? []).filter((n) => n.endsWith('.toml')).map((n) => `${CONTAINERD_DROPINS}/${n}`)];
  const configs: ToolkitFacts['configs'] = [];
  const runtimes: RuntimeEntry[] = [];
  let defaultRuntime: string | undefined;
  for (const file of files) {
    const text = await read(ctx, file);
    configs.push({ file, readable: text !== null });
    if (text === null) continue;
    const p = parseContainerdRuntimes(text, file);
    runtimes.push(...p.runtimes);
    defaultRuntime = p.defaultRuntime ?? defaultRuntime;
  }
  return {
    os,
    packages: packages.installed,
    binaries: (which?.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean),
    configs,
    runtimes,
    defaultRuntime,
  };
}
