// runPreflight: loads the profile and site file, decides which nodes to check
// and how to reach them, runs the engine, closes the connections.
//
// Which nodes:
// - no --site, or a site whose `nodes` list is empty: this machine only;
// - otherwise every site node (or those named by --node) over SSH, plus this
//   machine when --local is given.
// Roles of this machine: --role when given; else those of the site node named
// like this machine's hostname; else control-plane, the strictest single role
// (etcd disk, most ports) so that a bare run on a fresh node errs on the safe side.
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import type { Lang, Role } from '../schema/common.ts';
import { loadYamlFile } from '../schema/load.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult } from '../schema/report.ts';
import { siteSchema, type Site, type SiteNode } from '../schema/site.ts';
import { ALL_CHECKS, SITE_CHECKS } from './checks/index.ts';
import { FleetProgress } from './checks/fleet/progress.ts';
import { runChecks, siteCheckTimeout, type EngineNode, type RecordedFacts } from './engine.ts';
import { createLocalHost } from './hosts/local.ts';
import { connectSsh } from './hosts/ssh/connect.ts';
import { UnreachableHost } from './hosts/ssh/unreachable.ts';
import type { SshConnectOptions } from './hosts/ssh/target.ts';
import { JumpPool, parseJump } from './hosts/ssh/jump.ts';
import { DEFAULT_PROFILE_NAME, loadProfile, validatePatterns } from './profile.ts';
import type { CheckDef, Host, SiteCheckDef } from './types.ts';

export const DEFAULT_LOCAL_ROLES: Role[] = ['control-plane'];
/** SSH handshakes at once (--ssh-concurrency): each costs this machine a few ms of CPU for the
 *  key exchange; hundreds at once starve one another past their timeouts. */
export const DEFAULT_SSH_CONCURRENCY = 32;

export interface RemoteHostOptions {
  site?: Site;
  /** Jump host connections of the run (ssh.proxyJump), shared by the nodes behind them. */
  jumps?: JumpPool;
  siteDir: string;
  acceptNewHostKeys: boolean;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

/** Opens a Host for a site node. Resolves even when the node is unreachable (the host then fails each call). */
export type RemoteHostFactory = (node: SiteNode, opts: RemoteHostOptions) => Promise<Host>;

export const openSshHost: RemoteHostFactory = (node, opts) => {
  const { proxyJump, ...ssh } = node.ssh ?? {};
  const target = { name: node.name, address: node.address, ...ssh };
  const connect: SshConnectOptions = { connectTimeoutMs: opts.timeoutMs, acceptNewHostKeys: opts.acceptNewHostKeys, env: opts.env, baseDir: opts.siteDir };
  // A node's own proxyJump, else the site's (as OpenSSH: the first setting wins).
  const chain = proxyJump ?? opts.site?.ssh?.proxyJump;
  if (chain?.length) {
    if (!opts.jumps) throw new Error('openSshHost: proxyJump needs RemoteHostOptions.jumps');
    connect.dial = opts.jumps.dialer(chain.map(parseJump), target, connect);
  }
  return connectSsh(target, connect);
};

export interface PreflightOptions {
  sitePath?: string;
  /** --node: only these site nodes. */
  nodeNames?: string[];
  /** --local: also this machine when the site lists nodes. */
  local?: boolean;
  acceptNewHostKeys?: boolean;
  /** --role: roles of this machine. */
  roles?: Role[];
  profilePath?: string;
  only?: string[];
  skip?: string[];
  timeoutMs: number;
  concurrency: number;
  /** SSH connections being opened at once (default DEFAULT_SSH_CONCURRENCY). */
  sshConcurrency?: number;
  lang: Lang;
  env: NodeJS.ProcessEnv;
  cwd: string;
  onResult?(result: CheckResult): void;
  /** Each probe's outcome, to keep the run's facts (--save-facts). */
  onFacts?(r: RecordedFacts): void;
  /** Progress lines while SSH nodes answer (default: stderr when it is a terminal). */
  progress?: NodeJS.WritableStream;
  /** Overridable for tests and other transports; SSH by default. */
  remoteHostFactory?: RemoteHostFactory;
  checks?: CheckDef[];
  siteChecks?: SiteCheckDef[];
}

export interface PreflightNode {
  name: string;
  address?: string;
  roles: Role[];
  reachable?: boolean;
  /** From the run's start to the node's last result. */
  durationMs?: number;
}

export interface PreflightRun {
  results: CheckResult[];
  profile: Profile;
  profileName: string;
  site?: Site;
  /** Directory of the site file (relative secret/key paths), else cwd. */
  siteDir: string;
  nodes: PreflightNode[];
  /** The machine that ran the checks. */
  host: string;
  startedAt: Date;
  durationMs: number;
}

export async function runPreflight(o: PreflightOptions): Promise<PreflightRun> {
  const startedAt = new Date();
  const t0 = performance.now();
  const checks = o.checks ?? ALL_CHECKS;
  const siteChecks = o.siteChecks ?? SITE_CHECKS;
  const ids = [...checks, ...siteChecks].map((c) => c.id);
  validatePatterns('only', o.only ?? [], ids);
  validatePatterns('skip', o.skip ?? [], ids);

  const profile = loadProfile(o.profilePath && resolve(o.cwd, o.profilePath));
  const sitePath = o.sitePath && resolve(o.cwd, o.sitePath);
  const site = sitePath ? loadYamlFile(sitePath, siteSchema) : undefined;
  const siteDir = sitePath ? dirname(sitePath) : o.cwd;

  const me = hostname();
  const plan = chooseNodes(o, site?.nodes ?? [], me);
  const jumps = new JumpPool();
  const remoteOpts: RemoteHostOptions = { site, jumps, siteDir, acceptNewHostKeys: o.acceptNewHostKeys ?? false, timeoutMs: o.timeoutMs, env: o.env };
  const nodes: EngineNode[] = [];
  try {
    // Handshakes cost CPU here: a bounded number at once, each timed from its own start (the
    // connect timeout does not run while a node waits for its turn).
    const sshConcurrency = Math.max(1, o.sshConcurrency ?? DEFAULT_SSH_CONCURRENCY);
    const progress = addNodes(nodes, plan, o, remoteOpts, sshConcurrency);
    const deadlineMs = overallDeadline(o, checks.length, plan.remote.length, sshConcurrency, nodes.length);
    const lastResultAt = new Map<string, number>();
    const results = await withDeadline(deadlineMs, (signal) =>
      runChecks({
        nodes,
        checks: plan.remote.length > 0 ? progress.wrap(checks) : checks,
        siteChecks,
        profile,
        site,
        timeoutMs: o.timeoutMs,
        concurrency: o.concurrency,
        lang: o.lang,
        only: o.only,
        skip: o.skip,
        env: o.env,
        siteDir,
        signal,
        onFacts: o.onFacts,
        onResult: (r) => {
          lastResultAt.set(r.node, performance.now() - t0);
          progress.onResult(r);
          o.onResult?.(r);
        },
      }),
    );
    return {
      results,
      profile,
      profileName: o.profilePath ?? DEFAULT_PROFILE_NAME,
      site,
      siteDir,
      nodes: await describeNodes(nodes, lastResultAt),
      host: me,
      startedAt,
      durationMs: performance.now() - t0,
    };
  } finally {
    await Promise.all(nodes.map(async (n) => (await Promise.resolve(n.host).catch(() => null))?.close().catch(() => {})));
    await jumps.close(); // after the nodes: their connections run through the hops
  }
}

/** The nodes a run checks: this machine or not (and as which site node), and the site nodes over SSH. */
interface NodePlan {
  checkLocal: boolean;
  selfInSite?: SiteNode;
  remote: SiteNode[];
  /** This machine's hostname. */
  me: string;
}

/** Decides which nodes to check (see the top of this file); --node and --role that do not fit the site are usage errors. */
function chooseNodes(o: PreflightOptions, siteNodes: SiteNode[], me: string): NodePlan {
  for (const n of o.nodeNames ?? []) {
    if (!siteNodes.some((s) => s.name === n)) {
      throw new UsageError(`preflight: --node '${n}' is not a node of ${o.sitePath ?? 'the site (no --site given)'}${siteNodes.length ? ` (nodes: ${siteNodes.map((s) => s.name).join(', ')})` : ''}`);
    }
  }
  if (o.roles?.length && siteNodes.length > 0 && !o.local) {
    throw new UsageError('preflight: --role sets the roles of this machine; with a site that lists nodes, add --local (site nodes take their roles from the site file)');
  }
  const checkLocal = siteNodes.length === 0 || o.local === true;
  // This machine named in the site: it takes that node's roles and is checked locally, not over SSH.
  const selfInSite = checkLocal ? siteNodes.find((s) => s.name === me) : undefined;
  const remote = siteNodes.filter((s) => (!o.nodeNames?.length || o.nodeNames.includes(s.name)) && s !== selfInSite);
  return { checkLocal, selfInSite, remote, me };
}

/**
 * Adds the plan's nodes to `nodes` (this machine first), each remote one with its connection
 * still opening; returns the progress display they report to.
 */
function addNodes(nodes: EngineNode[], plan: NodePlan, o: PreflightOptions, remoteOpts: RemoteHostOptions, sshConcurrency: number): FleetProgress {
  const { checkLocal, selfInSite, remote, me } = plan;
  if (checkLocal) {
    const roles = o.roles?.length ? o.roles : (selfInSite?.roles ?? DEFAULT_LOCAL_ROLES);
    nodes.push({ info: { name: me, address: selfInSite?.address, roles }, host: createLocalHost({ name: me }) });
  }
  // SSH fan-out: connections open in parallel under a limit, each bounded by its own
  // connect timeout, so an unreachable node costs its timeout and delays no other.
  const factory = o.remoteHostFactory ?? openSshHost;
  const progressOut = o.progress ?? (remote.length > 0 && process.stderr.isTTY ? process.stderr : undefined);
  const progress = new FleetProgress(progressOut, remote.length + (checkLocal ? 1 : 0), remote.length);
  const connectLimit = pLimit(sshConcurrency);
  // Each node's checks start as soon as its own connection is up (the engine awaits per node).
  remote.forEach((n) =>
    nodes.push({
      info: { name: n.name, address: n.address, roles: n.roles },
      host: connectLimit(async () => {
        const h = await factory(n, remoteOpts);
        progress.connected(n.name, h);
        return h;
      }),
    }),
  );
  return progress;
}

/**
 * The run's overall deadline: connecting, every wave of checks on a node and the site checks
 * each get one timeout. Connections open in waves of sshConcurrency: each wave may take up to
 * one timeout; site checks get one timeout per NODES_PER_SITE_TIMEOUT nodes.
 */
function overallDeadline(o: PreflightOptions, checks: number, remote: number, sshConcurrency: number, nodes: number): number {
  const waves = Math.ceil(checks / Math.max(1, o.concurrency)) + Math.ceil(remote / sshConcurrency);
  return o.timeoutMs * (waves + 2) + siteCheckTimeout(o.timeoutMs, nodes);
}

/** Runs `fn` with a signal that fires at the deadline: whatever still runs then is reported as `error`, never waited for. */
function withDeadline<T>(deadlineMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`overall deadline of ${Math.round(deadlineMs / 1000)} s reached`)), deadlineMs);
  timer.unref();
  return fn(deadline.signal).finally(() => clearTimeout(timer));
}

/** The nodes as the report lists them: reachable or not, and how long until their last result. */
function describeNodes(nodes: EngineNode[], lastResultAt: Map<string, number>): Promise<PreflightNode[]> {
  return Promise.all(
    nodes.map(async (n) => {
      const h = await n.host;
      const ms = lastResultAt.get(n.info.name);
      return { ...n.info, reachable: h?.kind === 'local' ? true : !(h instanceof UnreachableHost), ...(ms === undefined ? {} : { durationMs: Math.round(ms) }) };
    }),
  );
}
