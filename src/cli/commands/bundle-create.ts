import { notImplemented, type Command } from '../args.ts';

export const bundleCreateCommand: Command = {
  name: 'bundle create',
  summary: 'download charts, images and files into one offline tarball',
  usage: `Usage: astrago-check bundle create --spec FILE.yaml --output FILE.tar [options]

Options:
  --spec FILE           bundle spec (kind BundleSpec)
  --output FILE         the tar to write (FILE.tar.sha256 is written beside it)
  --platform OS/ARCH    keep only these image platforms (repeatable; overrides the spec; 'all' keeps whole indexes)
  --cache-dir DIR       content-addressed cache; a repeated or interrupted run resumes from it
  --concurrency N       parallel downloads (default 8)
  -h, --help            this help`,
  options: {
    spec: { type: 'string' },
    output: { type: 'string' },
    platform: { type: 'string', multiple: true },
    'cache-dir': { type: 'string' },
    concurrency: { type: 'string' },
  },
  async run() {
    notImplemented('bundle create', 5);
  },
};
