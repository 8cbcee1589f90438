// The single binary reading nvidia-smi's XML: no GPU is lent to these tests, so a script
// named nvidia-smi on the PATH of the run (a temp directory; nothing on the machine
// changes) prints a recorded document, whole or cut short. This proves the binary's own
// path: the command run on the node, fast-xml-parser loaded on first use inside the
// executable, the verdicts; a cut-short report must give `error`, never `pass`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBinary } from '../support/run-binary.ts';
import { smiFixture } from '../support/gpu-fixtures.ts';
import type { CheckResult } from '../../src/schema/report.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A bin directory whose nvidia-smi prints `doc` for `-q -x` and exits `code`. */
function fakeSmiDir(doc: string, code = 0): string {
  const dir = mkdtempSync(join(tmpdir(), 'ac-smi-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'report.xml'), doc);
  writeFileSync(join(dir, 'nvidia-smi'), `#!/bin/sh\n[ "$1 $2" = "-q -x" ] || exit 2\ncat "${join(dir, 'report.xml')}"\nexit ${code}\n`);
  chmodSync(join(dir, 'nvidia-smi'), 0o755);
  return dir;
}

async function run(dir: string): Promise<Map<string, CheckResult>> {
  const r = await runBinary(['--role', 'gpu-worker', '--only', 'gpu.model,gpu.mig,gpu.ecc,gpu.memory-errors,gpu.persistence', '--format', 'json'], {
    env: { PATH: `${dir}:${process.env.PATH}`, HOME: '/tmp' },
  });
  assert.ok(r.stdout.trim().startsWith('{'), `${r.code}: ${r.stderr}`);
  return new Map((JSON.parse(r.stdout).results as CheckResult[]).map((x) => [x.id, x]));
}

test('binary: a whole HGX H200 report is judged; a cut-short one is an error for every nvidia-smi check', async () => {
  const full = smiFixture('hgx-h200-nvswitch.xml');
  const ok = await run(fakeSmiDir(full));
  assert.equal(ok.get('gpu.model')!.status, 'pass', ok.get('gpu.model')!.message);
  assert.match(ok.get('gpu.model')!.message, /^8 × NVIDIA H200/);
  assert.equal(ok.get('gpu.ecc')!.status, 'pass');
  assert.equal(ok.get('gpu.memory-errors')!.status, 'pass');
  assert.equal((ok.get('gpu.mig')!.facts.gpus as unknown[]).length, 8);

  const cut = await run(fakeSmiDir(full.slice(0, Math.floor(full.length / 2))));
  for (const id of ['gpu.model', 'gpu.mig', 'gpu.ecc', 'gpu.memory-errors', 'gpu.persistence']) {
    assert.equal(cut.get(id)!.status, 'error', `${id}: ${cut.get(id)!.message}`);
    assert.match(cut.get(id)!.message, /nvidia-smi -q -x gave no usable report: not well-formed XML \(line \d+/);
  }

  const failing = await run(fakeSmiDir("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", 9));
  assert.equal(failing.get('gpu.ecc')!.status, 'skip');
  assert.match(failing.get('gpu.ecc')!.message, /couldn't communicate with the NVIDIA driver/);
});
