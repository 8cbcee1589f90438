// An esbuild plugin that changes two lines of ssh2 (1.17.0) as it is bundled: its AES-GCM
// cipher and decipher keep their key as a Buffer and build a new (de)cipher from it for
// every packet; Node then spends ~23 us per packet checking what kind of key it was given,
// against ~2 us for a KeyObject. A fleet run of 50 nodes moves tens of thousands of packets
// (the profile showed ~0.6 s of the tool's CPU there). The key becomes a KeyObject once,
// when the cipher is set up; nothing else changes. Tests that run the sources use ssh2
// unchanged; the built binary (and the tests that run it) uses this.
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

const EDITS: [string, string][] = [
  ['this._encKey = enc.cipherKey;', "this._encKey = require('crypto').createSecretKey(enc.cipherKey);"],
  ['this._decipherKey = dec.decipherKey;', "this._decipherKey = require('crypto').createSecretKey(dec.decipherKey);"],
];

export const ssh2KeyObjects: Plugin = {
  name: 'ssh2-key-objects',
  setup(b) {
    b.onLoad({ filter: /[\\/]ssh2[\\/]lib[\\/]protocol[\\/]crypto\.js$/ }, async (args) => {
      let src = await readFile(args.path, 'utf8');
      for (const [from, to] of EDITS) {
        // A newer ssh2 that no longer has these lines: fail the build, so someone looks.
        if (src.split(from).length !== 2) throw new Error(`ssh2-key-objects: expected exactly one "${from}" in ${args.path}; ssh2 changed, review the plugin`);
        src = src.replace(from, to);
      }
      return { contents: src, loader: 'js' };
    });
  },
};
