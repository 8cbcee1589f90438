// The preflight data model: a Host that probes read facts from, and checks
// made of a probe (I/O, facts) and a rule (pure judgement against the profile).
import type { Duplex } from 'node:stream';
import type { Category, Role, Status } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { Site } from '../schema/site.ts';

export interface ExecOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Run through `sudo -n` when not root (SSH hosts with ssh.sudo). */
  sudo?: boolean;
  input?: string;
  env?: Record<string, string>;
}

export interface ExecResult {
  /** Exit code; 127 when the command does not exist; null when killed. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface FsStats {
  path: string;
  /** The path that exists and was measured (nearest existing ancestor). */
  measuredPath: string;
  /** Mount point of the filesystem holding measuredPath, when known (paths sharing one filesystem share its space). */
  mountPoint?: string;
  fsType: string;
  totalBytes: number;
  freeBytes: number;
  totalInodes: number;
  freeInodes: number;
}

/** Where probes run: this machine, or a node reached over SSH. */
export interface Host {
  readonly name: string;
  readonly kind: 'local' | 'ssh';
  readonly address?: string;
  /** argv, not a shell line; use ['sh', '-c', script] for pipelines. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** File contents, or null when it does not exist / cannot be read. */
  readFile(path: string, opts?: { signal?: AbortSignal; maxBytes?: number }): Promise<string | null>;
  /** Directory entries, or null when it does not exist. */
  readDir(path: string, opts?: { signal?: AbortSignal }): Promise<string[] | null>;
  /** Filesystem stats of the path or its nearest existing ancestor. */
  statFs(path: string, opts?: { signal?: AbortSignal }): Promise<FsStats>;
  /** A TCP connection that starts on the host itself (SSH: direct-tcpip). */
  connectTcp(host: string, port: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<Duplex>;
  /**
   * Optional (SSH hosts have it): is host:port reachable FROM this host? Tries connectTcp
   * (direct-tcpip); when the node's sshd forbids forwarding (AllowTcpForwarding no),
   * connectTcp rejects with code 'ERR_SSH_FORWARDING_DENIED' and this falls back to a
   * shell probe on the node (bash /dev/tcp under timeout, or nc -z); `via` says which, and
   * results should say so. Probes that only need open/refused/filtered should prefer it
   * when present.
   */
  tcpProbe?(host: string, port: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<TcpProbeResult>;
  /**
   * Optional (SSH hosts have it): many tcpProbe's at once, dialled by the node itself in one
   * batch (`workers` at a time, each dial bounded by probeTimeoutMs). One result per target,
   * undefined where none came before the end, and the TCP ports the node itself listens on
   * (null: unknown); null when the node cannot run the batch (no bash).
   */
  tcpSweep?(
    targets: { host: string; port: number }[],
    opts: { signal?: AbortSignal; probeTimeoutMs: number; workers: number },
  ): Promise<{ results: (TcpProbeResult | undefined)[]; listening: number[] | null } | null>;
  /**
   * Optional (SSH hosts have it): start reading these facts now, all in one round trip;
   * later calls for them are answered from that read. Anything it cannot answer (or a
   * failed batch) falls through to the normal call, so it never changes a fact. Never throws.
   */
  prefetch?(gather: Gather, opts: { signal?: AbortSignal; timeoutMs: number }): void;
  /**
   * Optional (SSH hosts have it): `count` readings of the node's clock (`<seconds>.<fraction>`),
   * each between `sentAt` and `receivedAt` (this machine's epoch ms), taken over one open
   * channel so that a reading's round trip is one packet exchange, not a session start.
   */
  clockReadings?(count: number, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<{ sentAt: number; receivedAt: number; text: string }[]>;
  /** The user id probes run as (0 = root). */
  uid(): Promise<number>;
  close(): Promise<void>;
}

/** Node facts a probe will read, declared so a remote host can fetch them in one go
 *  (Host.prefetch). Only cheap reads without side effects: nothing that may hang or needs root. */
export interface Gather {
  /** readFile paths. */
  files?: string[];
  /** readDir paths. */
  dirs?: string[];
  /** Files matching a pattern whose only wildcard is `*` (within a segment), e.g.
   *  /etc/sysctl.d/*.conf: for probes that list a directory, then read each file, or
   *  whose path depends on another fact (/lib/modules/*\/modules.builtin). */
  globs?: string[];
  /** exec argv, run as the login user without sudo, stdin /dev/null; with a condition
   *  when the probe runs it only then (a command not run stays unknown to the cache). */
  commands?: (string[] | GatherCommand)[];
  /** statFs paths. */
  statFs?: string[];
}

export interface GatherCommand {
  argv: string[];
  /** Only when the login user is root. */
  onlyIfRoot?: boolean;
  /** Only when this path exists (e.g. /run/systemd/system before systemctl). */
  onlyIfExists?: string;
}

export interface TcpProbeResult {
  state: 'open' | 'refused' | 'filtered' | 'dns' | 'unreachable' | 'error';
  error?: string;
  ms: number;
  /** local socket, SSH direct-tcpip channel, the shell fallback on the node, or the node's own batch of dials (tcpSweep). */
  via: 'local' | 'ssh-forward' | 'ssh-shell' | 'ssh-batch';
}

export interface NodeInfo {
  name: string;
  address?: string;
  roles: Role[];
}

/** Everything a rule may look at besides the facts: plain data, no I/O. */
export interface JudgeContext {
  node: NodeInfo;
  profile: Profile;
  site?: Site;
  isRoot: boolean;
  lang: 'en' | 'ko';
  /** Directory of the site file: relative caFile/passwordFile paths in it are resolved against it. */
  siteDir?: string;
}

export interface ProbeContext extends JudgeContext {
  host: Host;
  signal: AbortSignal;
  timeoutMs: number;
  /** Process environment as seen by the tool (secrets must not be copied into facts). */
  env: NodeJS.ProcessEnv;
}

export interface Judgement {
  /** Defaults to the check id; a check yielding several results suffixes it, e.g. disk.free[/var]. */
  id?: string;
  status: Status;
  message: string;
  remediation?: string;
  facts?: Record<string, unknown>;
  /** Site checks: the node a result is about (default 'site'). Node checks: ignored. */
  node?: string;
}

export interface CheckDef<F = unknown> {
  id: string;
  category: Category;
  title: string;
  /** When false for a node, the check is not run there (e.g. GPU checks on control-plane). */
  appliesTo?(ctx: JudgeContext): boolean;
  /** What the probe will read from the node (an optimisation for SSH nodes: see Gather). */
  gather?(ctx: JudgeContext): Gather;
  /** Collect facts. May throw: the engine reports `error` with the reason. */
  probe(ctx: ProbeContext): Promise<F>;
  /** Pure: facts + context -> one or more results. */
  judge(facts: F, ctx: JudgeContext): Judgement | Judgement[];
}

/** Checks across nodes (hostnames unique, clock skew, node-to-node ports). */
export interface SiteCheckContext {
  nodes: { info: NodeInfo; host: Host | null }[];
  profile: Profile;
  site?: Site;
  signal: AbortSignal;
  timeoutMs: number;
  lang: 'en' | 'ko';
}

export interface SiteCheckDef<F = unknown> {
  id: string;
  category: Category;
  title: string;
  probe(ctx: SiteCheckContext): Promise<F>;
  judge(facts: F, ctx: Omit<SiteCheckContext, 'nodes' | 'signal'> & { nodes: NodeInfo[] }): Judgement[];
}

// eslint-style helper so arrays of heterogeneous checks type-check.
export function defineCheck<F>(def: CheckDef<F>): CheckDef<unknown> {
  return def as CheckDef<unknown>;
}
export function defineSiteCheck<F>(def: SiteCheckDef<F>): SiteCheckDef<unknown> {
  return def as SiteCheckDef<unknown>;
}
