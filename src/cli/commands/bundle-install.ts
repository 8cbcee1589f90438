import { notImplemented, type Command } from '../args.ts';

export const bundleInstallCommand: Command = {
  name: 'bundle install',
  summary: 'push a bundle into the site registry',
  usage: `Usage: astrago-check bundle install FILE.tar --registry HOST[:PORT][/PREFIX] [options]

Options:
  --registry REF        target registry, optionally with a path prefix
  --ca-file FILE        CA bundle (PEM) for the registry's TLS certificate
  --insecure            plain HTTP / no TLS verification for the registry
  --dry-run             print the plan, change nothing
  --charts-dir DIR      write the charts and the values override here
  --concurrency N       parallel uploads (default 8)
  -h, --help            this help`,
  options: {
    registry: { type: 'string' },
    'ca-file': { type: 'string' },
    insecure: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'charts-dir': { type: 'string' },
    concurrency: { type: 'string' },
  },
  positionals: [1, 1],
  async run() {
    notImplemented('bundle install', 6);
  },
};
