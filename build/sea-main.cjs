// The single binary's entry: runs the bundled CLI (SEA asset astrago-check.cjs)
// with a V8 code cache made by build/code-cache-warm.cjs after the CLI had run a few
// commands. Node's own SEA code cache (useCodeCache) only holds what V8 compiles
// before anything runs: the top level, not the functions inside the modules, so
// every start-up compiled the YAML parser, zod and undici's parts again (~20 ms
// on bundle create). This cache holds every function those commands ran.
// A cache V8 refuses (another V8 or other flags) only costs that time back;
// ASTRAGO_DEBUG=1 says so on stderr (the build checks it).
'use strict';
const { getAsset } = require('node:sea');
const { Script } = require('node:vm');
const Module = require('node:module');

const source = getAsset('astrago-check.cjs', 'utf8');
const script = new Script(Module.wrap(source), {
  filename: 'astrago-check.cjs',
  cachedData: Buffer.from(getAsset('astrago-check.cache')),
});
if (process.env.ASTRAGO_DEBUG) process.stderr.write(`code cache ${script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, process.execPath, require('node:path').dirname(process.execPath));
