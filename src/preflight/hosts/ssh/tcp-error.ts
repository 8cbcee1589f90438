// Connect errors in the words of the TCP probe states.
import type { TcpProbeResult } from '../../types.ts';
import type { SshConnectFacts } from './facts.ts';

/** open | refused | filtered | dns | unreachable | error, from a connect error's words. */
export function classifyTcpError(err: Error): TcpProbeResult['state'] {
  return classifyTcpText(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`);
}

/** The same from the words alone (a shell's message): no Error to build per probe. */
export function classifyTcpText(text: string): TcpProbeResult['state'] {
  if (/ECONNREFUSED|refused/i.test(text)) return 'refused';
  if (/ETIMEDOUT|timed out|no answer/i.test(text)) return 'filtered';
  if (/EHOSTUNREACH|ENETUNREACH|no route|unreachable/i.test(text)) return 'unreachable';
  if (/ENOTFOUND|EAI_|resolve|Name or service not known|unknown host/i.test(text)) return 'dns';
  return 'error';
}

/** Connection failures in words a field engineer acts on. */
export function describeSocketError(err: NodeJS.ErrnoException): { state: SshConnectFacts['tcp']['state']; error: string } {
  switch (err.code) {
    case 'ECONNREFUSED':
      return { state: 'refused', error: 'connection refused (sshd not running or port closed)' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { state: 'unreachable', error: `no route to host (${err.code})` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { state: 'dns', error: `name does not resolve (${err.code})` };
    case 'ETIMEDOUT':
      return { state: 'timeout', error: `no answer within the timeout (${err.message}): filtered, or the node is down` };
    default:
      return { state: 'error', error: err.message };
  }
}
