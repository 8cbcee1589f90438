// resources.cpu / resources.memory: logical CPUs (/proc/cpuinfo) and memory
// (/proc/meminfo) against the strictest role of the node: below min fails,
// below recommended warns.
import { requirementsFor, type Threshold } from '../../roles.ts';
import { defineCheck, type JudgeContext, type Judgement } from '../../types.ts';

export interface CpuFacts {
  cpus: number;
  model?: string;
}

export interface MemoryFacts {
  memTotalKiB: number;
}

/** MemTotal is installed RAM minus what firmware and kernel reserve; allow this much below the threshold. */
export const MEMORY_ALLOWANCE = 0.05;

export function parseCpuinfo(text: string): CpuFacts {
  const cpus = (text.match(/^processor\s*:/gm) ?? []).length;
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
  return model ? { cpus, model } : { cpus };
}

export function parseMeminfo(text: string): MemoryFacts {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  if (!m) throw new Error('/proc/meminfo has no MemTotal line');
  return { memTotalKiB: Number(m[1]) };
}

function roleNote(t: Threshold, ctx: JudgeContext): string {
  return ctx.node.roles.length > 1 ? `${t.role} (strictest of ${ctx.node.roles.join(', ')})` : t.role;
}

export function judgeCpu(f: CpuFacts, ctx: JudgeContext): Judgement {
  const t = requirementsFor(ctx.profile, ctx.node.roles).cpu;
  const facts = { ...f, min: t.min, recommended: t.recommended, role: t.role };
  const have = `${f.cpus} CPU${f.cpus === 1 ? '' : 's'}`;
  if (f.cpus < t.min) {
    return { status: 'fail', message: `${have}; ${roleNote(t, ctx)} needs at least ${t.min}`, facts, remediation: `give ${ctx.node.name} at least ${t.min} CPUs (recommended ${t.recommended ?? t.min}); check with: nproc` };
  }
  if (t.recommended !== undefined && f.cpus < t.recommended) {
    return { status: 'warn', message: `${have}; ${roleNote(t, ctx)} recommends ${t.recommended}`, facts, remediation: `give ${ctx.node.name} ${t.recommended} CPUs for headroom; check with: nproc` };
  }
  return { status: 'pass', message: `${have} (${roleNote(t, ctx)} needs ${t.min}${t.recommended ? `, recommends ${t.recommended}` : ''})`, facts };
}

const gib = (kib: number) => kib / 1024 / 1024;
const fmt = (n: number) => (Math.round(n * 10) / 10).toString();

export function judgeMemory(f: MemoryFacts, ctx: JudgeContext): Judgement {
  const t = requirementsFor(ctx.profile, ctx.node.roles).memoryGiB;
  const have = gib(f.memTotalKiB);
  const meets = (needGiB: number) => have >= needGiB * (1 - MEMORY_ALLOWANCE);
  const facts = { ...f, memTotalGiB: Number(fmt(have)), minGiB: t.min, recommendedGiB: t.recommended, role: t.role, allowance: MEMORY_ALLOWANCE };
  if (!meets(t.min)) {
    return { status: 'fail', message: `${fmt(have)} GiB memory; ${roleNote(t, ctx)} needs at least ${t.min} GiB`, facts, remediation: `give ${ctx.node.name} at least ${t.min} GiB of memory (recommended ${t.recommended ?? t.min} GiB); check with: free -g` };
  }
  if (t.recommended !== undefined && !meets(t.recommended)) {
    return { status: 'warn', message: `${fmt(have)} GiB memory; ${roleNote(t, ctx)} recommends ${t.recommended} GiB`, facts, remediation: `give ${ctx.node.name} ${t.recommended} GiB of memory for headroom; check with: free -g` };
  }
  return { status: 'pass', message: `${fmt(have)} GiB memory (${roleNote(t, ctx)} needs ${t.min} GiB${t.recommended ? `, recommends ${t.recommended}` : ''})`, facts };
}

export const cpuCheck = defineCheck<CpuFacts>({
  id: 'resources.cpu',
  category: 'resources',
  title: 'CPU cores for the node roles',
  gather: () => ({ files: ['/proc/cpuinfo'] }),
  async probe({ host, signal }) {
    const text = await host.readFile('/proc/cpuinfo', { signal });
    const facts = text !== null ? parseCpuinfo(text) : { cpus: 0 };
    if (facts.cpus > 0) return facts;
    // Some architectures/containers hide processor lines: ask nproc instead.
    const r = await host.exec(['nproc', '--all'], { signal });
    const n = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isInteger(n) || n < 1) throw new Error('cannot count CPUs: /proc/cpuinfo unreadable and nproc failed');
    return { ...facts, cpus: n };
  },
  judge: judgeCpu,
});

export const memoryCheck = defineCheck<MemoryFacts>({
  id: 'resources.memory',
  category: 'resources',
  title: 'Memory for the node roles',
  gather: () => ({ files: ['/proc/meminfo'] }),
  async probe({ host, signal }) {
    const text = await host.readFile('/proc/meminfo', { signal });
    if (text === null) throw new Error('cannot read /proc/meminfo');
    return parseMeminfo(text);
  },
  judge: judgeMemory,
});
