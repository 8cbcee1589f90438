// Checks that need root on a node say `skip`, why, and the exact command that
// would run them, instead of failing or pretending.
import type { JudgeContext, Judgement } from './types.ts';

/** The command that re-runs only `checkId` with root rights on the node. */
export function rootCommand(checkId: string): string {
  return `sudo astrago-check --only ${checkId.replace(/\[.*\]$/, '')}`;
}

/** A `skip` judgement for a check that cannot run as this user. */
export function needsRoot(ctx: JudgeContext, checkId: string, reason: string, facts: Record<string, unknown> = {}): Judgement {
  const viaSite = ctx.site && ctx.node.address ? ` (or set ssh.sudo: true for node ${ctx.node.name} in the site file)` : '';
  return {
    id: checkId,
    status: 'skip',
    message: `needs root: ${reason}`,
    remediation: `run as root on ${ctx.node.name}: ${rootCommand(checkId)}${viaSite}`,
    facts: { ...facts, needsRoot: true, reason },
  };
}
