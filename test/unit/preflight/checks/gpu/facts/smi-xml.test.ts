// nvidia-smi -q -x documents of the shapes real GPUs give (HGX H200 and H100 with
// NVSwitch, A100 PCIe with MIG on and off, V100 with retired pages), parsed into the
// facts the rules judge; a cut-short or foreign document is an error, never a report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSmiXml, SmiXmlError } from '../../../../../../src/preflight/checks/gpu/facts/smi-xml.ts';
import { smiFactsOf } from '../../../../../../src/preflight/checks/gpu/facts/smi.ts';
import { smiFixture } from '../../../../../support/gpu-fixtures.ts';

test('HGX H200: 8 GPUs with NVSwitch fabric, MIG off, ECC on', async () => {
  const r = await parseSmiXml(smiFixture('hgx-h200-nvswitch.xml'));
  assert.equal(r.driverVersion, '550.90.07');
  assert.equal(r.cudaVersion, '12.4');
  assert.equal(r.attachedGpus, 8);
  assert.equal(r.gpus.length, 8);
  const g = r.gpus[0]!;
  assert.equal(g.busId, '00000000:18:00.0');
  assert.equal(g.name, 'NVIDIA H200');
  assert.equal(g.architecture, 'Hopper');
  assert.equal(g.persistenceMode, 'Enabled');
  assert.deepEqual(g.mig, { current: 'Disabled', pending: 'Disabled' });
  assert.deepEqual(g.ecc, { current: 'Enabled', pending: 'Enabled' });
  assert.deepEqual(g.fabric, { state: 'Completed', status: 'Success' });
  // Hopper retires no pages (N/A): it remaps rows.
  assert.deepEqual(g.retiredPages, { singleBit: undefined, doubleBit: undefined, pendingBlacklist: undefined, pendingRetirement: undefined });
  assert.deepEqual(g.remappedRows, { correctable: 0, uncorrectable: 0, pending: 'No', failure: 'No' });
  assert.equal(g.resetRequired, 'No');
  assert.deepEqual(r.gpus.map((x) => x.busId.slice(9, 11)), ['18', '2A', '3A', '5D', '9A', 'AB', 'BA', 'DB']);
});

test('A100 PCIe with MIG on; A100 with a row remapping pending; V100 with retired pages', async () => {
  const mig = await parseSmiXml(smiFixture('a100-pcie-mig-on.xml'));
  assert.deepEqual(mig.gpus.map((g) => g.mig.current), ['Enabled', 'Enabled']);
  assert.equal(mig.gpus[0]!.fabric, undefined, 'fabric N/A on a PCIe card');
  const remap = await parseSmiXml(smiFixture('a100-pcie-remap-pending.xml'));
  assert.deepEqual(remap.gpus[1]!.remappedRows, { correctable: 0, uncorrectable: 1, pending: 'Yes', failure: 'No' });
  assert.equal(remap.gpus[1]!.resetRequired, 'Yes');
  assert.equal(remap.gpus[0]!.persistenceMode, 'Disabled');
  const v100 = await parseSmiXml(smiFixture('v100-retired-pages.xml'));
  assert.equal(v100.gpus[2]!.name, 'Tesla V100-SXM2-32GB');
  assert.deepEqual(v100.gpus[2]!.retiredPages, { singleBit: 0, doubleBit: 2, pendingBlacklist: 'Yes', pendingRetirement: 'Yes' });
  assert.deepEqual(v100.gpus[0]!.remappedRows, { correctable: undefined, uncorrectable: undefined, pending: undefined, failure: undefined }, 'Volta has no row remapper');
  assert.deepEqual(v100.gpus[0]!.mig, { current: undefined, pending: undefined });
});

test('a truncated, empty, foreign or inconsistent document throws SmiXmlError', async () => {
  const full = smiFixture('hgx-h200-nvswitch.xml');
  for (const cut of [0.1, 0.5, 0.9, 0.999]) {
    const part = full.slice(0, Math.floor(full.length * cut));
    await assert.rejects(parseSmiXml(part), SmiXmlError, `cut at ${cut}`);
  }
  // Cut exactly after a complete <gpu> element: well-formed up to there, root never closed.
  const afterFirstGpu = full.slice(0, full.indexOf('</gpu>') + '</gpu>'.length);
  await assert.rejects(parseSmiXml(afterFirstGpu), /not well-formed XML/);
  await assert.rejects(parseSmiXml(''), /empty output/);
  await assert.rejects(parseSmiXml('<?xml version="1.0" ?>\n<log><gpu/></log>\n'), /no <nvidia_smi_log>/);
  // A document that says 8 GPUs but carries 7 (a GPU element dropped by a broken writer).
  const seven = full.replace(/\t<gpu id="00000000:DB:00.0">[\s\S]*?<\/gpu>\n/, '');
  await assert.rejects(parseSmiXml(seven), /attached_gpus says 8 but the document describes 7/);
});

test('smiFactsOf: absent, failed, invalid, ok', async () => {
  assert.deepEqual(await smiFactsOf(null), { state: 'absent' });
  const failed = await smiFactsOf({ code: 9, stdout: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", stderr: '' });
  assert.deepEqual(failed, { state: 'failed', error: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." });
  assert.match(((await smiFactsOf({ code: null, stdout: '', stderr: '' })) as { error: string }).error, /killed/);
  const full = smiFixture('a100-pcie-mig-on.xml');
  const cut = await smiFactsOf({ code: 0, stdout: full.slice(0, 5000), stderr: '' });
  assert.equal(cut.state, 'invalid', 'exit 0 with a cut-short document is not a report');
  assert.equal((await smiFactsOf({ code: 0, stdout: full, stderr: '' })).state, 'ok');
});
