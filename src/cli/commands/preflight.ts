import { notImplemented, type Command } from '../args.ts';

export const preflightCommand: Command = {
  name: 'preflight',
  summary: 'check nodes before an install (default command)',
  usage: `Usage: astrago-check [preflight] [options]

Checks this machine, or every node of a site over SSH, and prints a report
mapped to the customer information checklist.

Options:
  --site FILE               site file (kind Site); without it, checks this machine
  --node NAME               only this node of the site (repeatable)
  --local                   also check this machine when a site lists nodes
  --accept-new-host-keys    record unknown SSH host keys (changed keys are always refused)
  --role ROLE               role of this machine: control-plane | worker | gpu-worker
  --profile FILE            check profile (default: the built-in checks/default.yaml)
  --only ID,...             run only these checks (ids or id prefixes, e.g. disk.)
  --skip ID,...             skip these checks
  --format FMT              tty | json | yaml | junit | markdown (default tty)
  --output FILE             write the report to FILE instead of stdout
  --lang LANG               en | ko (default en)
  --timeout DUR             per-check timeout, e.g. 5s, 500ms (default 5s)
  --concurrency N           checks run at once (default 16)
  --strict                  warnings also fail (exit 1)
  -h, --help                this help

Exit codes: 0 nothing failed, 1 a check failed, 2 bad usage or invalid input.`,
  options: {
    site: { type: 'string' },
    node: { type: 'string', multiple: true },
    local: { type: 'boolean' },
    'accept-new-host-keys': { type: 'boolean' },
    role: { type: 'string' },
    profile: { type: 'string' },
    only: { type: 'string', multiple: true },
    skip: { type: 'string', multiple: true },
    format: { type: 'string' },
    output: { type: 'string' },
    lang: { type: 'string' },
    timeout: { type: 'string' },
    concurrency: { type: 'string' },
    strict: { type: 'boolean' },
  },
  async run() {
    notImplemented('preflight', 2);
  },
};
