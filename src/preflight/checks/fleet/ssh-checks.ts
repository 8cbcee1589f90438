// Per-node SSH checks. The facts come from the connection attempt itself
// (SshHost / UnreachableHost keep them), so an unreachable node gets its
// ssh.* results at once, without any further waiting. On this machine
// (--local, or no site) they yield no result: nothing went over SSH.
import { defineCheck, type Host, type Judgement, type ProbeContext } from '../../types.ts';
import { SshHost } from '../../hosts/ssh/host.ts';
import { UnreachableHost } from '../../hosts/ssh/unreachable.ts';
import type { SshConnectFacts } from '../../hosts/ssh/facts.ts';
import { judgeAuth, judgeHostKey, judgeReachable, judgeSudo, type SudoFacts } from './rules.ts';

export function connectFactsOf(host: Host): SshConnectFacts | null {
  return host instanceof SshHost || host instanceof UnreachableHost ? host.connectFacts : null;
}

const fromConnection = async (ctx: ProbeContext) => connectFactsOf(ctx.host);

/** A check judged on the connection facts alone; no result on this machine. */
function connectionCheck(id: string, category: 'accounts' | 'security', title: string, judge: (f: SshConnectFacts, node: string) => Judgement) {
  return defineCheck<SshConnectFacts | null>({ id, category, title, probe: fromConnection, judge: (f, ctx) => (f ? judge(f, ctx.node.name) : []) });
}

export const sshReachableCheck = connectionCheck('ssh.reachable', 'accounts', 'SSH reaches the node (TCP + handshake)', judgeReachable);
export const sshHostKeyCheck = connectionCheck('ssh.hostkey', 'security', 'SSH host key is known and unchanged', judgeHostKey);
export const sshAuthCheck = connectionCheck('ssh.auth', 'accounts', 'SSH key or password authenticates', judgeAuth);

export const sshSudoCheck = defineCheck<(SudoFacts & { user: string }) | null>({
  id: 'ssh.sudo',
  category: 'accounts',
  title: 'The SSH user may sudo without a password',
  gather: () => ({ commands: [['sudo', '-n', 'true']] }),
  async probe(ctx) {
    const sudoConfigured = ctx.site?.nodes.find((n) => n.name === ctx.node.name)?.ssh?.sudo ?? false;
    if (ctx.host instanceof UnreachableHost) {
      return { sudoConfigured, unreachable: ctx.host.why, user: ctx.host.connectFacts.user };
    }
    if (!(ctx.host instanceof SshHost)) return null;
    const r = await ctx.host.sudoCheck({ signal: ctx.signal, timeoutMs: ctx.timeoutMs });
    return { ...r, sudoConfigured, user: ctx.host.connectFacts.user };
  },
  judge: (f) => (f ? judgeSudo(f, f.user) : []),
});

export const sshCheckList = [sshReachableCheck, sshHostKeyCheck, sshAuthCheck, sshSudoCheck];
