// Jump hosts (OpenSSH's ProxyJump): `ssh.proxyJump: [user@bastion:port, …]` per node or for
// the whole site. Each hop is an SSH connection of its own, opened through the previous one
// (a direct-tcpip channel), with its host key checked against the node's known_hosts and its
// login tried with the node's keys, exactly as the node's; the node is then dialled through
// the last hop. Nodes behind the same chain share its connections (one per hop, opened once).
import { connectSsh } from './connect.ts';
import { SshHost } from './host.ts';
import type { SshConnectOptions, SshTarget } from './target.ts';
import type { UnreachableHost } from './unreachable.ts';

export interface JumpHop {
  user?: string;
  host: string;
  port: number;
  /** As written in the site file, for messages. */
  spec: string;
}

/** `[user@]host[:port]`, IPv6 as `[addr]:port` (OpenSSH's ProxyJump syntax, without ssh:// URIs). */
export function parseJump(spec: string): JumpHop {
  const m = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@:\s[\]]+)(?::(\d{1,5}))?$/.exec(spec);
  const port = m?.[3] ? Number(m[3]) : 22;
  if (!m || port < 1 || port > 65535) throw new Error(`ssh.proxyJump '${spec}': expected [user@]host[:port]`);
  return { ...(m[1] ? { user: m[1] } : {}), host: m[2]!.replace(/^\[|\]$/g, ''), port, spec };
}

/** The hop connections of one run, by chain (closed together when the run ends). */
export class JumpPool {
  readonly #hops = new Map<string, Promise<SshHost | UnreachableHost>>();

  /**
   * A dial function for connectSsh that reaches address:port through `chain`; it fails with
   * the hop that did not answer, and why (the node is then reported unreachable with it).
   */
  dialer(chain: JumpHop[], node: SshTarget, opts: SshConnectOptions): NonNullable<SshConnectOptions['dial']> {
    return async (address, port, o) => {
      const last = await this.#hop(chain, chain.length, node, opts);
      return await last.connectTcp(address, port, o).catch((err: Error) => {
        throw new Error(`through jump host ${chain.at(-1)!.spec}: ${err.message}`);
      });
    };
  }

  /** The connection to hop `n` (1-based) of the chain, opened through hop n-1. */
  async #hop(chain: JumpHop[], n: number, node: SshTarget, opts: SshConnectOptions): Promise<SshHost> {
    const key = JSON.stringify([chain.slice(0, n).map((h) => h.spec), node.keyFile, node.knownHostsFile, node.user]);
    let p = this.#hops.get(key);
    if (!p) {
      const hop = chain[n - 1]!;
      const dial: SshConnectOptions['dial'] = n > 1 ? async (a, port, o) => (await this.#hop(chain, n - 1, node, opts)).connectTcp(a, port, o) : undefined;
      const target: SshTarget = {
        name: `jump host ${hop.spec}`,
        address: hop.host,
        port: hop.port,
        user: hop.user ?? node.user,
        keyFile: node.keyFile,
        passphraseEnv: node.passphraseEnv,
        knownHostsFile: node.knownHostsFile,
      };
      // A hop lives as long as the run; the node's own deadline bounds the wait for it.
      p = connectSsh(target, { ...opts, signal: undefined, batchReads: false, dial });
      this.#hops.set(key, p);
    }
    const h = await p;
    if (!(h instanceof SshHost)) throw new Error(`jump host ${chain[n - 1]!.spec}: ${h.reason}`);
    return h;
  }

  async close(): Promise<void> {
    const hops = [...this.#hops.values()].reverse(); // the last hops first: they run over the earlier ones
    this.#hops.clear();
    for (const p of hops) await (await p).close().catch(() => {});
  }
}
