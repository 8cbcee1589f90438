// The checks that read nvidia-smi's XML report: MIG mode against the profile, ECC,
// retired pages and remapped rows, persistence mode, and the model and count against
// the site file. Without a report they skip (no driver yet) or error (a broken report).
import type { JudgeContext, Judgement } from '../../../types.ts';
import type { Distro } from '../facts/node.ts';
import type { SmiFacts } from '../facts/smi.ts';
import type { SmiGpu, SmiReport } from '../facts/smi-xml.ts';
import { fixFor, same } from './fix.ts';

export interface SmiCheckFacts {
  smi: SmiFacts;
  distro?: Distro;
}

/** The report, or the skip/error judgement that stands in for every nvidia-smi check. */
export function reportOr(f: SmiCheckFacts, ctx: JudgeContext): SmiReport | Judgement {
  const s = f.smi;
  if (s.state === 'ok') return s.report;
  if (s.state === 'invalid') {
    return { status: 'error', message: `nvidia-smi -q -x gave no usable report: ${s.error}`, remediation: 'nvidia-smi -q -x > /tmp/nvidia-smi.xml; echo $?  # run it by hand and look at the end of the file', facts: { smi: s } };
  }
  if (s.state === 'failed') return { status: 'skip', message: `not checked: nvidia-smi fails (${s.error}); see gpu.driver`, facts: { smi: s } };
  const why = ctx.profile.gpu.driver === 'operator' ? "the GPU Operator's driver container brings it with the driver (gpu.driver: operator): run again after the install" : 'see gpu.driver';
  return { status: 'skip', message: `not checked: nvidia-smi is not on this node; ${why}`, facts: { smi: s } };
}

const isReport = (x: SmiReport | Judgement): x is SmiReport => 'gpus' in x;
const label = (g: SmiGpu) => `${g.busId} ${g.name}`;
const list = (gs: SmiGpu[]) => gs.map(label).join(', ');
const on = (v: string | undefined) => v === 'Enabled';

/** Each nvidia-smi check: the report's GPUs in, a judgement out (or the stand-in). */
function withReport(f: SmiCheckFacts, ctx: JudgeContext, judge: (r: SmiReport) => Judgement): Judgement {
  const r = reportOr(f, ctx);
  if (!isReport(r)) return r;
  if (r.gpus.length === 0) return { status: 'skip', message: 'not checked: nvidia-smi sees no GPU (see gpu.model)', facts: { driverVersion: r.driverVersion } };
  return judge(r);
}

export function judgeMig(f: SmiCheckFacts, ctx: JudgeContext): Judgement {
  return withReport(f, ctx, (r) => {
    const want = ctx.profile.gpu.mig;
    const gpus = r.gpus.map((g) => ({ busId: g.busId, name: g.name, current: g.mig.current ?? 'N/A', pending: g.mig.pending ?? 'N/A' }));
    const facts = { gpus, want };
    const pending = r.gpus.filter((g) => g.mig.pending !== undefined && g.mig.pending !== g.mig.current);
    const summary = [...new Set(gpus.map((g) => g.current))].map((m) => `${gpus.filter((g) => g.current === m).length} ${m === 'N/A' ? 'without MIG support' : `MIG ${m}`}`).join(', ');
    const reset = (gs: SmiGpu[]) => same(`sudo nvidia-smi -r ${gs.map((g) => `-i ${g.busId}`).join(' ')}  # or reboot: the pending MIG mode applies after a GPU reset`);
    if (pending.length) {
      return { status: 'warn', message: `MIG mode change pending on ${list(pending)} (${pending.map((g) => `${g.mig.current} -> ${g.mig.pending}`).join(', ')})`, remediation: fixFor(reset(pending), f.distro), facts };
    }
    if (want === 'any') return { status: 'pass', message: `${summary} (gpu.mig: any)`, facts };
    const wrong = r.gpus.filter((g) => (want === 'enabled' ? !on(g.mig.current) : on(g.mig.current)));
    if (!wrong.length) return { status: 'pass', message: `${summary}, as gpu.mig: ${want} asks`, facts };
    const unsupported = wrong.filter((g) => g.mig.current === undefined);
    if (want === 'enabled' && unsupported.length === wrong.length) {
      return { status: 'fail', message: `gpu.mig: enabled, but ${list(unsupported)} cannot run MIG (A100, A30, H100, H200 and later can)`, remediation: 'use MIG-capable GPUs, or set gpu.mig: disabled (or any) in a copy of the profile', facts };
    }
    const flag = want === 'enabled' ? 1 : 0;
    return {
      status: 'fail',
      message: `MIG is ${want === 'enabled' ? 'off' : 'on'} on ${list(wrong)}; the profile asks gpu.mig: ${want}`,
      remediation: fixFor(same(`sudo nvidia-smi -mig ${flag} ${wrong.map((g) => `-i ${g.busId}`).join(' ')} && sudo nvidia-smi -r  # stop GPU processes first; with the GPU Operator set mig.strategy and the nvidia.com/mig.config label instead`), f.distro),
      facts,
    };
  });
}

export function judgeEcc(f: SmiCheckFacts, ctx: JudgeContext): Judgement {
  return withReport(f, ctx, (r) => {
    const gpus = r.gpus.map((g) => ({ busId: g.busId, name: g.name, current: g.ecc.current ?? 'N/A', pending: g.ecc.pending ?? 'N/A' }));
    const facts = { gpus, required: ctx.profile.gpu.ecc };
    const capable = r.gpus.filter((g) => g.ecc.current !== undefined);
    if (!capable.length) return { status: 'pass', message: `no GPU here has ECC memory (${[...new Set(r.gpus.map((g) => g.name))].join(', ')})`, facts };
    const off = capable.filter((g) => !on(g.ecc.current));
    const pending = capable.filter((g) => g.ecc.pending !== undefined && g.ecc.pending !== g.ecc.current);
    const enable = (gs: SmiGpu[]) => same(`sudo nvidia-smi -e 1 ${gs.map((g) => `-i ${g.busId}`).join(' ')} && sudo reboot`);
    if (off.length && ctx.profile.gpu.ecc) {
      const soon = off.filter((g) => on(g.ecc.pending));
      return {
        status: soon.length === off.length ? 'warn' : 'fail',
        message: `ECC is off on ${list(off)}${soon.length ? ` (enabled at the next reboot on ${soon.length})` : ''}; the profile asks for it (gpu.ecc: true)`,
        remediation: fixFor(soon.length === off.length ? same('sudo reboot') : enable(off.filter((g) => !on(g.ecc.pending))), f.distro),
        facts,
      };
    }
    if (pending.length) {
      return { status: 'warn', message: `ECC mode change pending on ${list(pending)} (${pending.map((g) => `${g.ecc.current} -> ${g.ecc.pending}`).join(', ')}): applies after a reboot`, remediation: fixFor(same('sudo reboot'), f.distro), facts };
    }
    return { status: 'pass', message: `ECC ${off.length ? `on for ${capable.length - off.length} of ${capable.length} GPUs (gpu.ecc: false)` : `enabled on all ${capable.length} GPU(s)`}`, facts };
  });
}

export function judgeMemoryErrors(f: SmiCheckFacts, ctx: JudgeContext): Judgement {
  return withReport(f, ctx, (r) => {
    const gpus = r.gpus.map((g) => ({ busId: g.busId, name: g.name, retiredPages: g.retiredPages, remappedRows: g.remappedRows, resetRequired: g.resetRequired }));
    const facts = { gpus };
    const yes = (v: string | undefined) => v === 'Yes';
    const failed = r.gpus.filter((g) => yes(g.remappedRows.failure));
    const pending = r.gpus.filter((g) => yes(g.remappedRows.pending) || yes(g.retiredPages.pendingRetirement) || yes(g.retiredPages.pendingBlacklist) || yes(g.resetRequired));
    const retired = r.gpus.filter((g) => (g.retiredPages.doubleBit ?? 0) > 0 || (g.retiredPages.singleBit ?? 0) > 0);
    const uncorrectable = r.gpus.filter((g) => (g.remappedRows.uncorrectable ?? 0) > 0);
    const what = (g: SmiGpu) => {
      const p = g.retiredPages;
      const m = g.remappedRows;
      const parts = [
        p.singleBit || p.doubleBit ? `${(p.singleBit ?? 0) + (p.doubleBit ?? 0)} retired page(s) (${p.doubleBit ?? 0} double-bit)` : '',
        m.correctable || m.uncorrectable ? `${(m.correctable ?? 0) + (m.uncorrectable ?? 0)} remapped row(s) (${m.uncorrectable ?? 0} uncorrectable)` : '',
        yes(p.pendingRetirement) || yes(p.pendingBlacklist) ? 'page retirement pending' : '',
        yes(m.pending) ? 'row remapping pending' : '',
        yes(m.failure) ? 'row remapping FAILED' : '',
      ].filter(Boolean);
      return `${label(g)}: ${parts.join(', ') || 'GPU reset required'}`;
    };
    if (failed.length) {
      return { status: 'fail', message: `GPU memory cannot be repaired: ${failed.map(what).join('; ')}`, remediation: 'drain the node and have the GPU replaced (RMA): a failed row remapping is permanent; nvidia-smi -q -d ROW_REMAPPER shows the details', facts };
    }
    if (pending.length) {
      return {
        status: 'fail',
        message: `a GPU reset is pending to retire or remap memory: ${pending.map(what).join('; ')}`,
        remediation: fixFor(same(`sudo nvidia-smi -r ${pending.map((g) => `-i ${g.busId}`).join(' ')}  # or reboot; stop the GPU's processes first`), f.distro),
        facts,
      };
    }
    const seen = [...new Set([...retired, ...uncorrectable])];
    if (seen.length) {
      return { status: 'warn', message: `GPU memory errors were repaired before: ${seen.map(what).join('; ')}`, remediation: 'nvidia-smi -q -d PAGE_RETIREMENT,ROW_REMAPPER  # watch the counts: a GPU whose count keeps growing needs replacing', facts };
    }
    return { status: 'pass', message: `no retired pages or remapped rows pending on ${r.gpus.length} GPU(s)`, facts };
  });
}

export function judgePersistence(f: SmiCheckFacts, ctx: JudgeContext): Judgement {
  return withReport(f, ctx, (r) => {
    const gpus = r.gpus.map((g) => ({ busId: g.busId, name: g.name, persistenceMode: g.persistenceMode ?? 'N/A' }));
    const facts = { gpus, required: ctx.profile.gpu.persistenceMode };
    const off = r.gpus.filter((g) => g.persistenceMode === 'Disabled');
    if (!off.length) return { status: 'pass', message: `persistence mode on for ${r.gpus.length - r.gpus.filter((g) => !g.persistenceMode).length} GPU(s)`, facts };
    if (!ctx.profile.gpu.persistenceMode) return { status: 'pass', message: `persistence mode off on ${off.length} GPU(s) (gpu.persistenceMode: false)`, facts };
    return {
      status: 'warn',
      message: `persistence mode is off on ${list(off)}: the driver unloads between jobs (slow starts, lost state)`,
      remediation: fixFor(same('sudo systemctl enable --now nvidia-persistenced'), f.distro, 'with the GPU Operator its driver container runs nvidia-persistenced'),
      facts,
    };
  });
}

/** Words of a model name, upper case: "NVIDIA A100-SXM4-80GB" -> NVIDIA, A100, SXM4, 80GB. */
const words = (s: string) => s.toUpperCase().split(/[\s\-_/]+/).filter(Boolean);

/** Does nvidia-smi's product name fit the site's gpuModel ("A100", "H100 80GB", "A100-SXM4-80GB")? */
export function modelMatches(productName: string, wanted: string): boolean {
  const have = new Set(words(productName));
  return words(wanted).every((w) => have.has(w));
}

export function judgeModel(f: SmiCheckFacts, ctx: JudgeContext): Judgement {
  const r = reportOr(f, ctx);
  if (!isReport(r)) return r;
  const want = ctx.site?.resources?.gpuModel;
  const perNode = ctx.site?.resources?.gpusPerNode;
  const models = [...new Set(r.gpus.map((g) => g.name))];
  const facts = { models, count: r.gpus.length, driverVersion: r.driverVersion, gpuModel: want, gpusPerNode: perNode };
  const seen = r.gpus.length ? `${r.gpus.length} × ${models.join(' + ')}` : 'no GPU';
  const problems: string[] = [];
  if (want) {
    const off = r.gpus.filter((g) => !modelMatches(g.name, want));
    if (off.length) problems.push(`${list(off)} ${off.length === 1 ? 'is' : 'are'} not the site's gpuModel "${want}"`);
  }
  if (perNode !== undefined && r.gpus.length !== perNode) problems.push(`the driver sees ${r.gpus.length} GPU(s), the site expects ${perNode} per node (resources.gpusPerNode)`);
  if (models.length > 1) problems.push(`mixed models on one node (${models.join(', ')})`);
  if (problems.length) {
    return {
      status: 'fail',
      message: `${seen}: ${problems.join('; ')}`,
      remediation: 'correct resources.gpuModel / resources.gpusPerNode in the site file, or the hardware; a GPU the driver lost ("fallen off the bus") shows in: sudo dmesg | grep -i -E "NVRM|Xid"',
      facts,
    };
  }
  const asked = [want ? `gpuModel "${want}"` : '', perNode !== undefined ? `${perNode} per node` : ''].filter(Boolean).join(', ');
  return { status: 'pass', message: `${seen}${asked ? ` (site: ${asked})` : ' (the site file names no gpuModel or gpusPerNode)'}`, facts };
}
