// The nvidia-smi rules judged on recorded reports: MIG against the profile, ECC,
// retired pages and remapped rows, persistence, model and count against the site file;
// no report: skip with the reason; a broken report: error, from every one of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile } from '../../../../../src/preflight/profile.ts';
import type { JudgeContext } from '../../../../../src/preflight/types.ts';
import type { Profile } from '../../../../../src/schema/profile.ts';
import type { Site } from '../../../../../src/schema/site.ts';
import { smiFactsOf } from '../../../../../src/preflight/checks/gpu/facts/smi.ts';
import { judgeEcc, judgeMemoryErrors, judgeMig, judgeModel, judgePersistence, modelMatches, type SmiCheckFacts } from '../../../../../src/preflight/checks/gpu/rules/smi.ts';
import { smiFixture } from '../../../../support/gpu-fixtures.ts';

const base = loadProfile();

function ctx(gpu: Partial<Profile['gpu']> = {}, site?: Site['resources']): JudgeContext {
  const profile = { ...base, gpu: { ...base.gpu, ...gpu } };
  return { node: { name: 'gpu-1', roles: ['gpu-worker'] }, profile, isRoot: false, lang: 'en', site: site ? ({ resources: site } as Site) : undefined };
}

const facts = async (file: string): Promise<SmiCheckFacts> => ({ smi: await smiFactsOf({ code: 0, stdout: smiFixture(file), stderr: '' }), distro: 'debian' });
const JUDGES = { judgeMig, judgeEcc, judgeMemoryErrors, judgePersistence, judgeModel };

test('every nvidia-smi rule: a truncated report is an error, a missing nvidia-smi a skip with the reason', async () => {
  const cut: SmiCheckFacts = { smi: await smiFactsOf({ code: 0, stdout: smiFixture('hgx-h200-nvswitch.xml').slice(0, 20000), stderr: '' }) };
  const absent: SmiCheckFacts = { smi: { state: 'absent' } };
  const failed: SmiCheckFacts = { smi: { state: 'failed', error: 'Failed to initialize NVML: Driver/library version mismatch' } };
  for (const [name, judge] of Object.entries(JUDGES)) {
    const e = judge(cut, ctx());
    assert.equal(e.status, 'error', name);
    assert.match(e.message, /no usable report: not well-formed XML/, name);
    const s = judge(absent, ctx());
    assert.equal(s.status, 'skip', name);
    assert.match(s.message, /nvidia-smi is not on this node; the GPU Operator's driver container brings it/, name);
    assert.match(judge(absent, ctx({ driver: 'preinstalled' })).message, /see gpu\.driver/, name);
    const f = judge(failed, ctx());
    assert.equal(f.status, 'skip', name);
    assert.match(f.message, /version mismatch/, name);
  }
});

test('gpu.mig: any / disabled / enabled against MIG off, on, unsupported, pending', async () => {
  const off = await facts('hgx-h200-nvswitch.xml');
  const on = await facts('a100-pcie-mig-on.xml');
  const volta = await facts('v100-retired-pages.xml');
  assert.equal(judgeMig(off, ctx()).status, 'pass');
  assert.match(judgeMig(off, ctx()).message, /8 MIG Disabled \(gpu\.mig: any\)/);
  assert.equal(judgeMig(off, ctx({ mig: 'disabled' })).status, 'pass');
  const wantOn = judgeMig(off, ctx({ mig: 'enabled' }));
  assert.equal(wantOn.status, 'fail');
  assert.match(wantOn.remediation!, /nvidia-smi -mig 1 -i 00000000:18:00\.0/);
  assert.equal(judgeMig(on, ctx({ mig: 'enabled' })).status, 'pass');
  assert.equal(judgeMig(on, ctx({ mig: 'disabled' })).status, 'fail');
  const unsupported = judgeMig(volta, ctx({ mig: 'enabled' }));
  assert.equal(unsupported.status, 'fail');
  assert.match(unsupported.message, /cannot run MIG/);
  assert.equal(judgeMig(volta, ctx({ mig: 'disabled' })).status, 'pass', 'a GPU without MIG is not in MIG mode');
  const pending = await facts('a100-pcie-mig-on.xml');
  if (pending.smi.state === 'ok') pending.smi.report.gpus[1]!.mig.pending = 'Disabled';
  const p = judgeMig(pending, ctx({ mig: 'enabled' }));
  assert.equal(p.status, 'warn');
  assert.match(p.message, /pending on 00000000:CA:00\.0 .*Enabled -> Disabled/);
});

test('gpu.ecc: on everywhere passes; off fails when the profile asks; pending warns', async () => {
  assert.equal(judgeEcc(await facts('hgx-h200-nvswitch.xml'), ctx()).status, 'pass');
  const off = await facts('a100-pcie-mig-on.xml');
  if (off.smi.state === 'ok') off.smi.report.gpus[0]!.ecc = { current: 'Disabled', pending: 'Disabled' };
  const j = judgeEcc(off, ctx());
  assert.equal(j.status, 'fail');
  assert.match(j.remediation!, /nvidia-smi -e 1 -i 00000000:17:00\.0 && sudo reboot/);
  assert.equal(judgeEcc(off, ctx({ ecc: false })).status, 'pass');
  if (off.smi.state === 'ok') off.smi.report.gpus[0]!.ecc.pending = 'Enabled';
  assert.equal(judgeEcc(off, ctx()).status, 'warn', 'enabled at the next reboot');
});

test('gpu.memory-errors: retired pages pending (V100), a row remapping pending (A100), clean (H200)', async () => {
  const v100 = judgeMemoryErrors(await facts('v100-retired-pages.xml'), ctx());
  assert.equal(v100.status, 'fail');
  assert.match(v100.message, /00000000:1D:00\.0 Tesla V100-SXM2-32GB: 2 retired page\(s\) \(2 double-bit\), page retirement pending/);
  assert.match(v100.remediation!, /nvidia-smi -r -i 00000000:1D:00\.0/);
  const a100 = judgeMemoryErrors(await facts('a100-pcie-remap-pending.xml'), ctx());
  assert.equal(a100.status, 'fail');
  assert.match(a100.message, /00000000:CA:00\.0 .*1 remapped row\(s\) \(1 uncorrectable\), row remapping pending/);
  assert.equal(judgeMemoryErrors(await facts('hgx-h200-nvswitch.xml'), ctx()).status, 'pass');
  const failed = await facts('a100-pcie-remap-pending.xml');
  if (failed.smi.state === 'ok') failed.smi.report.gpus[1]!.remappedRows.failure = 'Yes';
  assert.match(judgeMemoryErrors(failed, ctx()).remediation!, /RMA/);
  const healed = await facts('v100-retired-pages.xml');
  if (healed.smi.state === 'ok') Object.assign(healed.smi.report.gpus[2]!.retiredPages, { pendingBlacklist: 'No', pendingRetirement: 'No' });
  assert.equal(judgeMemoryErrors(healed, ctx()).status, 'warn', 'pages retired earlier, nothing pending');
});

test('gpu.persistence: off warns with the unit to enable', async () => {
  assert.equal(judgePersistence(await facts('hgx-h200-nvswitch.xml'), ctx()).status, 'pass');
  const off = judgePersistence(await facts('a100-pcie-remap-pending.xml'), ctx());
  assert.equal(off.status, 'warn');
  assert.match(off.remediation!, /systemctl enable --now nvidia-persistenced/);
  assert.equal(judgePersistence(await facts('a100-pcie-remap-pending.xml'), ctx({ persistenceMode: false })).status, 'pass');
});

test('gpu.model: the site gpuModel and gpusPerNode', async () => {
  assert.ok(modelMatches('NVIDIA A100-SXM4-80GB', 'A100'));
  assert.ok(modelMatches('NVIDIA A100 80GB PCIe', 'a100 80gb'));
  assert.ok(modelMatches('NVIDIA H100 80GB HBM3', 'H100'));
  assert.ok(!modelMatches('NVIDIA H100 80GB HBM3', 'H200'));
  assert.ok(!modelMatches('NVIDIA A100 80GB PCIe', 'A100-SXM4'));
  const h200 = await facts('hgx-h200-nvswitch.xml');
  const ok = judgeModel(h200, ctx({}, { gpuModel: 'H200', gpusPerNode: 8 }));
  assert.equal(ok.status, 'pass');
  assert.match(ok.message, /8 × NVIDIA H200 \(site: gpuModel "H200", 8 per node\)/);
  const wrong = judgeModel(h200, ctx({}, { gpuModel: 'H100', gpusPerNode: 4 }));
  assert.equal(wrong.status, 'fail');
  assert.match(wrong.message, /not the site's gpuModel "H100".*sees 8 GPU\(s\), the site expects 4/);
  assert.match(judgeModel(h200, ctx()).message, /names no gpuModel/);
});
