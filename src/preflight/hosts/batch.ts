// Many small node reads in ONE round trip: the facts a node's checks declare up front
// (files, directories, glob-matched files, quick commands, filesystem stats) are read by
// one shell script on one exec channel, instead of one SFTP request or exec channel
// each. Over SSH every operation costs a dozen encrypted packets on both ends; a fleet
// of 50 nodes with ~70 reads each was CPU-bound on exactly that (issue #4).
//
// Pure: builds the script and parses its two output streams. The SSH host runs it.
//
// Framing: after each record the script prints, on stdout, "\n<nonce> <idx> <code> <name>\n"
// and on stderr "\n<nonce> e\n". The random nonce cannot occur in what the node prints,
// and the newline put before each marker is dropped again, so contents come back
// byte for byte. Records arrive in order; the k-th stderr segment belongs to the k-th
// stdout record. A glob entry yields one record per matching file, then one closing record.
import type { Gather, GatherCommand } from '../types.ts';
import { shQuote } from './quote.ts';

export type BatchEntry =
  | { kind: 'uid' }
  | { kind: 'file'; path: string }
  | { kind: 'dir'; path: string }
  | { kind: 'glob'; pattern: string }
  | ({ kind: 'command' } & GatherCommand)
  | { kind: 'statfs'; path: string };

/** One record of the script's output. */
export interface BatchRecord {
  idx: number;
  code: number;
  /** A glob's file ('F' records); undefined for every other record. */
  name?: string;
  stdout: Buffer;
  stderr: Buffer;
}

/** Largest file the batch reads (as Host.readFile's default). */
export const BATCH_MAX_FILE = 16 * 1024 * 1024;

// Absolute, at least one `*`, never two in a row; `*` is the only wildcard.
const GLOB_RE = /^\/[^\n]*\*[^\n]*$/;

export function isBatchGlob(pattern: string): boolean {
  return GLOB_RE.test(pattern) && !pattern.includes('**');
}

/** The union of several checks' declarations, without repeats. */
export function mergeGathers(gathers: Gather[]): Gather {
  const uniq = (xs: string[]) => [...new Set(xs)];
  // The same command wanted under different conditions: run it unconditionally.
  const commands = new Map<string, GatherCommand>();
  for (const g of gathers) {
    for (const raw of g.commands ?? []) {
      const c = Array.isArray(raw) ? { argv: raw } : raw;
      if (!c.argv.length) continue;
      const key = commandKey(c.argv);
      const had = commands.get(key);
      commands.set(key, !had || (had.onlyIfRoot === c.onlyIfRoot && had.onlyIfExists === c.onlyIfExists) ? c : { argv: c.argv });
    }
  }
  return {
    files: uniq(gathers.flatMap((g) => g.files ?? [])),
    dirs: uniq(gathers.flatMap((g) => g.dirs ?? [])),
    globs: uniq(gathers.flatMap((g) => g.globs ?? [])).filter(isBatchGlob),
    commands: [...commands.values()],
    statFs: uniq(gathers.flatMap((g) => g.statFs ?? [])),
  };
}

export function commandKey(argv: string[]): string {
  return JSON.stringify(argv);
}

/** Entries in the order the script reads them: cheap file reads first, commands last. */
export function batchEntries(g: Gather, opts: { uid: boolean }): BatchEntry[] {
  const statFs = g.statFs ?? [];
  // statFs needs the mount table; read it in the same batch.
  const files = [...new Set([...(g.files ?? []), ...(statFs.length ? ['/proc/self/mountinfo'] : [])])];
  return [
    ...(opts.uid ? [{ kind: 'uid' as const }] : []),
    ...files.map((path) => ({ kind: 'file' as const, path })),
    ...(g.dirs ?? []).map((path) => ({ kind: 'dir' as const, path })),
    ...(g.globs ?? []).filter(isBatchGlob).map((pattern) => ({ kind: 'glob' as const, pattern })),
    ...statFs.map((path) => ({ kind: 'statfs' as const, path })),
    ...(g.commands ?? []).map((c) => ({ kind: 'command' as const, ...(Array.isArray(c) ? { argv: c } : c) })),
  ];
}

/** A glob pattern as a shell word: literal parts quoted, `*` left for the shell. */
function globWord(pattern: string): string {
  return pattern.split('*').map((part) => (part ? shQuote(part) : '')).join('*');
}

/** Does a path match a batch glob (as the shell would expand it, leading dots aside)? */
export function globMatches(pattern: string, path: string): boolean {
  if (!isBatchGlob(pattern)) return false;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  if (!re.test(path)) return false;
  // The shell's `*` skips names that start with a dot unless the pattern's segment does.
  const want = pattern.split('/');
  return path.split('/').every((seg, i) => !(want[i]!.includes('*') && seg.startsWith('.') && !want[i]!.startsWith('.')));
}

/** The statFs shell snippet: nearest existing ancestor, its real path, statfs numbers. */
export function statFsScript(path: string): string {
  return (
    // ${p%/*} is dirname without a process (paths are absolute and clean).
    `p=${shQuote(path)}; while [ ! -e "$p" ]; do q=\${p%/*}; q=\${q:-/}; [ "$q" = "$p" ] && break; p=$q; done; ` +
    `printf '%s\\n' "$p"; { [ -d "$p" ] && (cd -P -- "$p" && pwd -P); } || readlink -f -- "$p" || printf '%s\\n' "$p"; stat -f -c '%t %S %b %a %c %d' -- "$p"`
  );
}

/**
 * rf FILE / ld DIR print a file's bytes / a directory's names, or fail. Under bash they
 * are builtins only: a node's time goes into starting processes (a fleet bench of 50 nodes
 * on one machine was bound by it), and bash's `read -d ''` takes a whole file that has no
 * NUL byte, exactly. A file with a NUL, a name with a newline, and plain sh use head/ls.
 */
const READERS = [
  `rfx() { head -c ${BATCH_MAX_FILE} -- "$1" </dev/null 2>/dev/null; }`,
  `ldx() { [ -d "$1" ] && ls -1A -- "$1" </dev/null 2>/dev/null; }`,
  'if [ -n "$BASH_VERSION" ]; then',
  '  shopt -s nullglob',
  `  rf() { [ -f "$1" ] && [ -r "$1" ] || return 1; local c r; { IFS= read -r -d '' c; r=$?; } 2>/dev/null <"$1" || return 1; [ $r = 0 ] && { rfx "$1"; return; }; printf '%s' "$c"; }`,
  `  ld() { [ -d "$1" ] && [ -r "$1" ] || return 1; local f o=''; for f in "$1"/* "$1"/.*; do f=\${f##*/}; case $f in .|..) continue;; *$'\\n'*) ldx "$1"; return;; esac; o+="$f"$'\\n'; done; printf '%s' "$o"; }`,
  'else',
  '  rf() { rfx "$@"; }',
  '  ld() { ldx "$@"; }',
  'fi',
];

/** The POSIX sh script that reads every entry and frames each record. */
export function batchScript(entries: BatchEntry[], nonce: string): string {
  if (!/^[A-Za-z0-9]{16,}$/.test(nonce)) throw new Error('batch nonce must be 16+ letters/digits');
  const lines = [
    `N=${nonce}`,
    'export LC_ALL=C',
    'U=${EUID:-$(id -u </dev/null)}',
    `m() { printf '\\n%s %s %s %s\\n' "$N" "$1" "$2" "$3"; printf '\\n%s e\\n' "$N" >&2; }`,
    ...READERS,
    // Whatever a login script printed before us ends up in this record, not in a fact.
    'm -1 0 .',
  ];
  entries.forEach((e, i) => {
    switch (e.kind) {
      case 'uid':
        lines.push(`printf '%s\\n' "$U"; m ${i} 0 .`);
        break;
      case 'file':
        lines.push(`rf ${shQuote(e.path)}; m ${i} $? .`);
        break;
      case 'dir':
        lines.push(`ld ${shQuote(e.path)}; m ${i} $? .`);
        break;
      case 'glob':
        // Names with a newline would break the marker line: skipped (read one by one later).
        lines.push(
          `for f in ${globWord(e.pattern)}; do case $f in *'\n'*) continue;; esac; [ -f "$f" ] || continue; ` +
            `rf "$f"; m ${i} $? "F$f"; done; m ${i} 0 .`,
        );
        break;
      case 'statfs':
        lines.push(`( ${statFsScript(e.path)} ) </dev/null; m ${i} $? .`);
        break;
      case 'command':
        // As SshHost.exec runs a command: through env(1), so a missing one exits 127.
        // A command whose condition does not hold is not run: no record, so it stays unknown.
        const guards = [...(e.onlyIfRoot ? ['test "$U" = 0'] : []), ...(e.onlyIfExists ? [`test -e ${shQuote(e.onlyIfExists)}`] : [])];
        const run = `env LC_ALL=C ${e.argv.map(shQuote).join(' ')} </dev/null; m ${i} $? .`;
        lines.push(guards.length ? `${guards.join(' && ')} && { ${run}; }` : run);
        break;
    }
  });
  return lines.join('\n') + '\n';
}

/** Splits one output stream at the markers, as the chunks arrive. */
class StreamSplitter {
  #buf: Buffer = Buffer.alloc(0);
  /** Where a marker was found whose line has not ended yet. */
  #scanFrom: number | undefined;
  readonly #marker: Buffer;
  readonly #onSegment: (data: Buffer, line: string) => void;
  constructor(nonce: string, onSegment: (data: Buffer, line: string) => void) {
    this.#marker = Buffer.from(`\n${nonce} `);
    this.#onSegment = onSegment;
  }
  feed(chunk: Buffer): void {
    // Search only where a marker can start: not in bytes already scanned, except for a
    // marker cut off by the end of the previous chunk.
    let searchFrom = this.#scanFrom ?? Math.max(0, this.#buf.length - this.#marker.length + 1);
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    this.#scanFrom = undefined;
    for (;;) {
      const at = this.#buf.indexOf(this.#marker, searchFrom);
      if (at < 0) return;
      const eol = this.#buf.indexOf(10, at + this.#marker.length);
      if (eol < 0) {
        this.#scanFrom = at; // marker line not complete yet
        return;
      }
      const line = this.#buf.subarray(at + this.#marker.length, eol).toString('utf8');
      const data = Buffer.from(this.#buf.subarray(0, at));
      this.#buf = this.#buf.subarray(eol + 1);
      searchFrom = 0;
      this.#onSegment(data, line);
    }
  }
  get pendingBytes(): number {
    return this.#buf.length;
  }
}

/** Turns the script's stdout and stderr back into records, delivered as soon as both halves are in. */
export class BatchParser {
  readonly #out: StreamSplitter;
  readonly #err: StreamSplitter;
  readonly #outs: { idx: number; code: number; name?: string; data: Buffer }[] = [];
  readonly #errs: Buffer[] = [];
  #delivered = 0;
  readonly #onRecord: (r: BatchRecord) => void;

  constructor(nonce: string, onRecord: (r: BatchRecord) => void) {
    this.#onRecord = onRecord;
    this.#out = new StreamSplitter(nonce, (data, line) => {
      const m = /^(-?\d+) (\d+) (.*)$/s.exec(line);
      if (!m) throw new Error(`batch output: bad marker line`);
      const name = m[3]!.startsWith('F') ? m[3]!.slice(1) : undefined;
      this.#outs.push({ idx: Number(m[1]), code: Number(m[2]), name, data });
      this.#drain();
    });
    this.#err = new StreamSplitter(nonce, (data) => {
      this.#errs.push(data);
      this.#drain();
    });
  }

  stdout(chunk: Buffer): void {
    this.#out.feed(chunk);
  }
  stderr(chunk: Buffer): void {
    this.#err.feed(chunk);
  }
  /** Output held while waiting for a marker (a runaway command shows here). */
  get pendingBytes(): number {
    return this.#out.pendingBytes + this.#err.pendingBytes;
  }

  #drain(): void {
    while (this.#delivered < this.#outs.length && this.#delivered < this.#errs.length) {
      const o = this.#outs[this.#delivered]!;
      const e = this.#errs[this.#delivered]!;
      this.#outs[this.#delivered] = undefined as never; // release the memory as we go
      this.#errs[this.#delivered] = undefined as never;
      this.#delivered++;
      this.#onRecord({ idx: o.idx, code: o.code, ...(o.name !== undefined ? { name: o.name } : {}), stdout: o.data, stderr: e });
    }
  }
}
