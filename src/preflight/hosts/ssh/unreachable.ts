// The Host of a node whose SSH connection failed: the run goes on, and each of its checks
// says why it could not be checked instead of failing on its own.
import type { Duplex } from 'node:stream';
import type { ExecResult, FsStats, Host } from '../../types.ts';
import { NodeUnreachableError, notCheckedWhy, type SshConnectFacts } from './facts.ts';

/** A node whose SSH connection failed: every operation fails at once with the reason. */
export class UnreachableHost implements Host {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly address: string;
  readonly connectFacts: SshConnectFacts;
  readonly reason: string;
  constructor(name: string, address: string, facts: SshConnectFacts, reason: string) {
    this.name = name;
    this.address = address;
    this.connectFacts = facts;
    this.reason = reason;
  }
  /** One line: why nothing can be checked on this node (see notCheckedWhy). */
  get why(): string {
    return notCheckedWhy(this.connectFacts, this.reason);
  }
  #fail(): Promise<never> {
    return Promise.reject(new NodeUnreachableError(this.name, this.reason, this.why));
  }
  exec(): Promise<ExecResult> {
    return this.#fail();
  }
  readFile(): Promise<string | null> {
    return this.#fail();
  }
  readDir(): Promise<string[] | null> {
    return this.#fail();
  }
  statFs(): Promise<FsStats> {
    return this.#fail();
  }
  connectTcp(): Promise<Duplex> {
    return this.#fail();
  }
  uid(): Promise<number> {
    return this.#fail();
  }
  async close(): Promise<void> {}
}
