// An esbuild plugin that leaves out three parts of our dependencies the binary never
// runs but would load at every start-up (measured on `bundle create`, ~25 ms of CPU
// profile together):
//   - zod's 40-odd locales: `z` is a namespace object, so esbuild keeps `z.locales`
//     and all it imports. zod's default locale is English, which stays.
//   - zod's fromJSONSchema (we write JSON Schema, never read it).
//   - undici's HTTP/2 client, which loads node:http2. Every dispatcher of ours sets
//     allowH2: false (undici 8 defaults to true), so no connection negotiates h2 and
//     connectH2 is never called.
// Each stub throws if it is ever reached, so a future use fails loudly instead of
// silently misbehaving. Tests that run the sources use the packages unchanged.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';

interface Stub {
  /** the file being replaced */
  file: RegExp;
  contents: string;
  /** a file beside it that the stub imports, checked at build time */
  needs?: string;
}

const STUBS: Stub[] = [
  {
    file: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/,
    contents: 'export { default as en } from "./en.js";\n',
    needs: 'en.js',
  },
  {
    file: /[\\/]zod[\\/]v4[\\/]classic[\\/]from-json-schema\.js$/,
    contents: 'export function fromJSONSchema() { throw new Error("zod fromJSONSchema is not in this binary (build/lean-deps.ts)"); }\n',
  },
  {
    file: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/,
    contents: "'use strict';\nmodule.exports = function connectH2() { throw new Error('HTTP/2 is not in this binary (build/lean-deps.ts)'); };\n",
  },
];

export const leanDeps: Plugin = {
  name: 'lean-deps',
  setup(b) {
    const seen = new Set<RegExp>();
    for (const stub of STUBS) {
      b.onLoad({ filter: stub.file }, (args) => {
        seen.add(stub.file);
        // A package that moved the file the stub relies on: fail the build, so someone looks.
        if (stub.needs && !existsSync(join(dirname(args.path), stub.needs))) throw new Error(`lean-deps: ${args.path} has no ${stub.needs} beside it; review build/lean-deps.ts`);
        return { contents: stub.contents, loader: 'js', resolveDir: dirname(args.path) };
      });
    }
    b.onEnd((result) => {
      if (result.errors.length > 0) return;
      // A stub that matched nothing means the package changed shape: say so rather than ship the full weight unnoticed.
      const missed = STUBS.filter((s) => !seen.has(s.file));
      if (missed.length > 0) throw new Error(`lean-deps: no file matched ${missed.map((s) => s.file).join(', ')}; a dependency changed, review build/lean-deps.ts`);
    });
  },
};
