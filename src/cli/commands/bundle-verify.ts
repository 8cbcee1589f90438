import { notImplemented, type Command } from '../args.ts';

export const bundleVerifyCommand: Command = {
  name: 'bundle verify',
  summary: 'verify every entry and blob of a bundle',
  usage: `Usage: astrago-check bundle verify FILE.tar

Checks FILE.tar.sha256 (when present), every entry against SHA256SUMS and
bundle.yaml, every blob against its digest, and that every manifest's blobs are present.
Exit 0 when intact, 1 when anything is wrong (each problem is named).`,
  options: {},
  positionals: [1, 1],
  async run() {
    notImplemented('bundle verify', 6);
  },
};
