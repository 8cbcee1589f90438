// Makes the V8 code cache build/sea-main.cjs loads: compiles the bundled CLI the
// way the binary does (same wrapper, same file name), runs a few commands that
// touch no network and nothing outside a temp dir (an empty bundle created,
// verified and inspected; a checklist; a schema; the help), then writes
// everything V8 compiled meanwhile.
//   node build/code-cache-warm.cjs APP.cjs OUT.cache
'use strict';
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Script } = require('node:vm');
const Module = require('node:module');

const [app, out] = process.argv.slice(2);
const script = new Script(Module.wrap(readFileSync(app, 'utf8')), { filename: 'astrago-check.cjs' });
const wrapper = script.runInThisContext();
// As in the binary: built-in modules only.
const builtinRequire = (id) => {
  if (Module.isBuiltin(id)) return require(id);
  throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
};

const dir = mkdtempSync(join(tmpdir(), 'ac-warm-'));
const spec = join(dir, 'warm.yaml');
writeFileSync(spec, 'apiVersion: astrago.io/v1\nkind: BundleSpec\nmetadata: {name: warm, version: "1"}\nplatforms: [linux/amd64]\n');
const tar = join(dir, 'warm.tar');
const runs = [
  ['bundle', 'create', '--spec', spec, '--output', tar, '--cache-dir', join(dir, 'cache')],
  ['bundle', 'verify', tar],
  ['bundle', 'inspect', tar, '--format', 'json'],
  ['checklist'],
  ['schema', 'report'],
  ['--help'],
];

async function main() {
  // The CLI exits as soon as its output is written; here it must come back for the next run.
  const exit = process.exit;
  process.exit = (code) => {
    process.exitCode = code ?? 0;
  };
  try {
    for (const argv of runs) {
      process.argv = [process.execPath, 'astrago-check', ...argv];
      process.exitCode = undefined;
      const mod = { exports: {} };
      wrapper(mod.exports, builtinRequire, mod, app, dir);
      // The CLI sets exitCode when its command is done.
      while (process.exitCode === undefined) await new Promise((r) => setTimeout(r, 5));
      if (process.exitCode !== 0) throw new Error(`warm-up 'astrago-check ${argv.join(' ')}' exited ${process.exitCode}`);
    }
    // V8 stamps the cache with a hash of its flags: undo the one the CLI sets at run time
    // (gc-nudge.ts: --expose-gc), or the binary, which starts without it, refuses the cache.
    require('node:v8').setFlagsFromString('--no-expose-gc');
    writeFileSync(out, script.createCachedData());
  } finally {
    process.exit = exit;
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`code-cache-warm: ${err.stack ?? err}\n`);
  process.exit(1);
});
