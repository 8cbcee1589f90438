// bundle images, and Helm repository indexes of public size, each against helm in the same run.
//  1. `bundle images` on a spec of ten charts (local charts with subcharts, the shapes of
//     test/support/image-charts.ts), rendered with helm; peer: `helm template` of the same ten
//     charts one after another (the rendering alone, as a script would run it).
//  2. A 25 MB index.yaml (BENCH_INDEX_MB; ~20,000 entries of the fields real repositories
//     carry) served on loopback; `bundle images` on a spec of three charts from it, against the
//     same spec on a small index of the same charts: the difference is what the big index costs
//     (target: < 1 s and < 100 MB extra). Peer: `helm show chart --repo` on both indexes.
//     BENCH_FULL_PARSE=1 adds the whole-document YAML parse (what bundle create did before).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageChart } from '../src/bundle/charts/package.ts';
import { helmBinary } from '../test/support/helm.ts';
import { startStaticServer, writeHelmIndex } from '../test/support/helm-repo.ts';
import { writePlatformChart } from '../test/support/image-charts.ts';
import { ensureBinary } from '../test/support/run-binary.ts';

const INDEX_MB = Number(process.env.BENCH_INDEX_MB ?? 25);
const bin = ensureBinary();
const helm = helmBinary();
const work = mkdtempSync(join(tmpdir(), 'ac-bench-images-'));
const helmEnv = { PATH: process.env.PATH, HOME: work, HELM_CACHE_HOME: join(work, 'h', 'cache'), HELM_CONFIG_HOME: join(work, 'h', 'config'), HELM_DATA_HOME: join(work, 'h', 'data') };

/** GNU time: wall seconds and peak RSS (MiB) of one command (async: the repository server runs in this process). */
async function timed(label: string, argv: string[], env: NodeJS.ProcessEnv = helmEnv): Promise<{ s: number; mib: number; out: string }> {
  const child = spawn('/usr/bin/time', ['-f', '%e %M', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`${label} failed (${code}):\n${err}`);
  const [s, kib] = err.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { s: s!, mib: kib! / 1024, out };
}

const best = <T extends { s: number }>(runs: T[]) => runs.reduce((a, b) => (b.s < a.s ? b : a));
async function repeat<T>(n: number, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await fn());
  return out;
}

/** A Helm index of about `mb` MB: many charts with many versions, the wanted ones among them (one near the end). */
function bigIndex(mb: number, wanted: Array<{ name: string; version: string; fileName: string; digest: string }>): string {
  const entry = (name: string, v: string, file: string, digest: string) =>
    [
      '  - annotations:',
      '      category: Infrastructure',
      `      images: |\n        - name: ${name}\n          image: docker.io/bench/${name}:${v}\n        - name: os-shell\n          image: docker.io/bench/os-shell:12-debian-12-r${v.length}`,
      '      licenses: Apache-2.0',
      '    apiVersion: v2',
      `    appVersion: ${v}`,
      '    created: "2024-05-01T10:00:00.000000000Z"',
      '    dependencies:',
      '    - name: common',
      '      repository: oci://registry-1.docker.io/bench/charts',
      '      tags:',
      '      - bench-common',
      '      version: 2.x.x',
      `    description: ${name} is a chart for the bench, with a description about as long as the ones real repositories carry.`,
      `    digest: ${digest}`,
      `    home: https://bench.example/${name}`,
      `    icon: https://bench.example/${name}/icon.svg`,
      '    keywords:',
      `    - ${name}`,
      '    - bench',
      '    maintainers:',
      '    - name: Bench Maintainers',
      '      url: https://bench.example/maintainers',
      `    name: ${name}`,
      '    sources:',
      `    - https://bench.example/src/${name}`,
      '    urls:',
      `    - ${file}`,
      `    version: ${v}`,
    ].join('\n');
  const blocks: string[] = [];
  let size = 0;
  for (let c = 0; size < mb * 1e6; c++) {
    const name = `chart-${String(c).padStart(4, '0')}`;
    const versions = Array.from({ length: 60 }, (_, i) => entry(name, `${Math.floor((60 - i) / 10)}.${(60 - i) % 10}.0`, `${name}-${60 - i}.tgz`, 'ab'.repeat(32)));
    const block = `  ${name}:\n${versions.join('\n')}`;
    blocks.push(block);
    size += block.length + 1;
  }
  const at = [0.1, 0.5, 1].map((f) => Math.floor(blocks.length * f));
  wanted.forEach((w, i) => blocks.splice(at[i % 3]! + i, 0, `  ${w.name}:\n${entry(w.name, w.version, w.fileName, w.digest)}`));
  return ['apiVersion: v1', 'entries:', ...blocks, 'generated: "2024-05-01T10:00:00Z"', ''].join('\n');
}

try {
  // 1. Ten charts.
  const base = await writePlatformChart(join(work, 'src'));
  const dirs: string[] = [];
  for (let i = 0; i < 10; i++) {
    const d = join(work, 'charts', `platform${i}`);
    cpSync(base, d, { recursive: true });
    writeFileSync(join(d, 'Chart.yaml'), readFileSync(join(d, 'Chart.yaml'), 'utf8').replace(/^name: platform$/m, `name: platform${i}`));
    dirs.push(d);
  }
  const spec10 = join(work, 'ten.yaml');
  writeFileSync(spec10, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: ten, version: "1"}\nnodeOS: [ubuntu22.04]\ncharts:\n${dirs.map((d, i) => `  - {name: platform${i}, path: ${d}}`).join('\n')}\n`);
  const images = (spec: string) => [bin, 'bundle', 'images', '--spec', spec, '--helm', helm, '--cache-dir', join(work, 'cache')];
  await timed('warm-up', images(spec10));
  const ours10 = best(await repeat(3, () => timed('bundle images (ten charts)', images(spec10))));
  const serial = async () => {
    const all = { s: 0, mib: 0, out: '' };
    for (const [i, d] of dirs.entries()) {
      const one = await timed('helm template', [helm, 'template', `platform${i}`, d]);
      all.s += one.s;
      all.mib = Math.max(all.mib, one.mib);
    }
    return all;
  };
  const peer10 = best(await repeat(3, serial));
  console.log(`ten charts (${ours10.out.trim().split('\n').length} distinct images):`);
  console.log(`  astrago-check bundle images   ${ours10.s.toFixed(2)} s  peak RSS ${ours10.mib.toFixed(0)} MiB`);
  console.log(`  helm template x 10 (serial)   ${peer10.s.toFixed(2)} s  peak RSS ${peer10.mib.toFixed(0)} MiB`);
  console.log(`  = ${(peer10.s / ours10.s).toFixed(2)}x helm's own rendering time`);

  // 2. Indexes.
  const repoBig = join(work, 'big');
  const repoSmall = join(work, 'small');
  mkdirSync(repoBig);
  mkdirSync(repoSmall);
  const wanted: Array<{ name: string; version: string; fileName: string; digest: string }> = [];
  for (const [i, d] of dirs.slice(0, 3).entries()) {
    const pkg = await packageChart(d);
    for (const r of [repoBig, repoSmall]) writeFileSync(join(r, pkg.fileName), pkg.data);
    wanted.push({ name: `platform${i}`, version: '1.2.0', fileName: pkg.fileName, digest: execFileSync('sha256sum', [join(repoBig, pkg.fileName)], { encoding: 'utf8' }).split(' ')[0]! });
  }
  writeHelmIndex(repoSmall, wanted);
  const text = bigIndex(INDEX_MB, wanted);
  writeFileSync(join(repoBig, 'index.yaml'), text);
  const entries = (text.match(/^ {2}- annotations:$/gm) ?? []).length;
  const srv = await startStaticServer(work);
  try {
    const spec = (repo: string) => {
      const f = join(work, `${repo}.yaml`);
      writeFileSync(f, `apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: idx, version: "1"}\nnodeOS: [ubuntu22.04]\ncharts:\n${wanted.map((w) => `  - {name: ${w.name}, repo: ${srv.url}/${repo}, version: 1.2.0}`).join('\n')}\n`);
      return f;
    };
    const [bigSpec, smallSpec] = [spec('big'), spec('small')];
    await timed('warm-up', images(smallSpec));
    const big = best(await repeat(3, () => timed('bundle images (big index)', images(bigSpec))));
    const small = best(await repeat(3, () => timed('bundle images (small index)', images(smallSpec))));
    const show = (repo: string) => timed('helm show chart', [helm, 'show', 'chart', '--repo', `${srv.url}/${repo}`, wanted[2]!.name, '--version', '1.2.0']);
    const hBig = best(await repeat(1, () => show('big'))); // tens of seconds: once
    const hSmall = best(await repeat(3, () => show('small')));
    console.log(`\nindex.yaml of ${(text.length / 1e6).toFixed(1)} MB (${entries} entries), three charts named from it, on loopback:`);
    console.log(`  astrago-check bundle images   ${big.s.toFixed(2)} s, peak RSS ${big.mib.toFixed(0)} MiB; with a small index ${small.s.toFixed(2)} s, ${small.mib.toFixed(0)} MiB`);
    console.log(`    the big index costs          +${(big.s - small.s).toFixed(2)} s, +${(big.mib - small.mib).toFixed(0)} MiB`);
    console.log(`  helm show chart --repo        ${hBig.s.toFixed(2)} s, peak RSS ${hBig.mib.toFixed(0)} MiB; with a small index ${hSmall.s.toFixed(2)} s, ${hSmall.mib.toFixed(0)} MiB (one chart)`);
    console.log(`    the big index costs helm     +${(hBig.s - hSmall.s).toFixed(2)} s, +${(hBig.mib - hSmall.mib).toFixed(0)} MiB`);
    if (process.env.BENCH_FULL_PARSE === '1') {
      const script = `import { pickFromIndex } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'bundle', 'charts', 'helm-repo.ts'))};\nimport { readFileSync } from 'node:fs';\nconst t = readFileSync(${JSON.stringify(join(repoBig, 'index.yaml'))}, 'utf8');\nfor (const w of ${JSON.stringify(wanted.map((w) => w.name))}) pickFromIndex(t, 'http://x', w, '1.2.0');\n`;
      writeFileSync(join(work, 'full.ts'), script);
      const full = await timed('full parse', [process.execPath, join(work, 'full.ts')]);
      console.log(`  whole-document YAML parse     ${full.s.toFixed(2)} s, peak RSS ${full.mib.toFixed(0)} MiB (the read bundle create did before)`);
    }
    const ok = big.s - small.s < 1 && big.mib - small.mib < 100;
    console.log(`\ntargets: big index < 1 s and < 100 MB extra: ${ok ? 'met' : 'NOT met'} (+${(big.s - small.s).toFixed(2)} s, +${(big.mib - small.mib).toFixed(0)} MiB); ${((hBig.s - hSmall.s) / Math.max(0.01, big.s - small.s)).toFixed(1)}x less extra time than helm`);
  } finally {
    await srv.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
