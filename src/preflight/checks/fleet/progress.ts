// Fleet runs: what the engine needs around the checks when nodes are reached
// over SSH, without changing the checks themselves.
// - A node whose connection failed: every check but ssh.* is skipped at once
//   with the reason (node unreachable, host key refused, not logged in; some probes
//   would swallow the host's error).
// - Progress on a terminal while nodes answer: "[12/50 nodes] master-1 done (3 fail)".
import type { CheckResult } from '../../../schema/report.ts';
import type { CheckDef } from '../../types.ts';
import { NodeUnreachableError } from '../../hosts/ssh/facts.ts';
import { UnreachableHost } from '../../hosts/ssh/unreachable.ts';

/** Checks that report on the connection itself and so run on an unreachable node too. */
const CONNECTION_CHECKS = /^ssh\./;

export class FleetProgress {
  readonly #out: { write(s: string): unknown } | undefined;
  readonly #total: number;
  readonly #remote: number;
  #connected = 0;
  #nodesDone = 0;
  readonly #expected = new Map<string, number>();
  readonly #done = new Map<string, Set<string>>();
  readonly #fails = new Map<string, number>();
  readonly #finished = new Set<string>();
  readonly #ids = new Set<string>();

  /**
   * `out`: where progress lines go (undefined = none, e.g. stderr is not a terminal);
   * `remoteNodes` of the `totalNodes` are reached over SSH (default: all).
   */
  constructor(out: { write(s: string): unknown } | undefined, totalNodes: number, remoteNodes = totalNodes) {
    this.#out = out;
    this.#total = totalNodes;
    this.#remote = remoteNodes;
  }

  #line(s: string): void {
    this.#out?.write(`${s}\n`);
  }

  /** A node's SSH connection attempt ended. */
  connected(name: string, host: { kind: string } | null): void {
    this.#connected++;
    const n = `[${this.#connected}/${this.#remote} connected]`;
    this.#line(host instanceof UnreachableHost ? `${n} ${name} unreachable: ${host.reason}` : `${n} ${name}`);
  }

  /**
   * Wraps the checks: counts what runs on each node (the engine asks appliesTo once per
   * node and check), notes when each finishes, and short-cuts non-connection checks on
   * unreachable nodes.
   */
  wrap(checks: CheckDef[]): CheckDef[] {
    for (const c of checks) this.#ids.add(c.id);
    return checks.map((c) => ({
      ...c,
      appliesTo: (ctx) => {
        const ok = !c.appliesTo || c.appliesTo(ctx);
        if (ok) this.#expected.set(ctx.node.name, (this.#expected.get(ctx.node.name) ?? 0) + 1);
        return ok;
      },
      probe: async (ctx) => {
        if (ctx.host instanceof UnreachableHost && !CONNECTION_CHECKS.test(c.id)) {
          this.#checkDone(ctx.node.name, c.id);
          throw new NodeUnreachableError(ctx.node.name, ctx.host.reason, ctx.host.why);
        }
        try {
          return await c.probe(ctx);
        } catch (err) {
          this.#checkDone(ctx.node.name, c.id);
          throw err;
        }
      },
      judge: (facts, ctx) => {
        try {
          return c.judge(facts, ctx);
        } finally {
          this.#checkDone(ctx.node.name, c.id);
        }
      },
    }));
  }

  /** Every result as the engine emits it (a timed-out check is only seen here). */
  onResult(r: CheckResult): void {
    if (r.status === 'fail') this.#fails.set(r.node, (this.#fails.get(r.node) ?? 0) + 1);
    const id = r.id.replace(/\[.*\]$/, '');
    if (this.#ids.has(id)) this.#checkDone(r.node, id);
  }

  #checkDone(node: string, checkId: string): void {
    let set = this.#done.get(node);
    if (!set) this.#done.set(node, (set = new Set()));
    set.add(checkId);
    const expected = this.#expected.get(node);
    if (expected !== undefined && set.size >= expected && !this.#finished.has(node)) {
      // Results of the last check are emitted right after its judge: report on the next tick.
      this.#finished.add(node);
      setImmediate(() => {
        this.#nodesDone++;
        const fails = this.#fails.get(node) ?? 0;
        this.#line(`[${this.#nodesDone}/${this.#total} nodes] ${node} done${fails ? ` (${fails} fail)` : ''}`);
      });
    }
  }
}
