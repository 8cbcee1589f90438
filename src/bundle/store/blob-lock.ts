// One writer per blob across processes. Two bundle create runs that share a
// cache (packaging jobs on one machine, or on one NFS share) would otherwise
// write one <hex>.partial at once: one truncates what the other wrote, or
// renames it away under the other. So a download first takes
// <hex>.partial.lock, created with O_EXCL and naming its holder (host, pid);
// a run that finds it waits, then finds the blob in the cache. The holder
// refreshes the lock's mtime; a lock whose holder is gone (a dead pid on this
// host) or that nobody refreshed for STALE_MS (a run on another host that
// crashed) is taken over.
import { hostname } from 'node:os';
import { link, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const HEARTBEAT_MS = 2_000;
const STALE_MS = 30_000;
const POLL_MS = 200;

export interface LockHolder {
  host: string;
  pid: number;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** called once, when another run holds the lock and this one starts to wait */
  onWait?: (holder: LockHolder) => void;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** The lock's holder and mtime; undefined when there is no lock. A lock still being written has no holder yet. */
async function readLock(file: string): Promise<{ holder?: LockHolder; text: string; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    let holder: LockHolder | undefined;
    try {
      const j = JSON.parse(text) as Partial<LockHolder>;
      if (typeof j.host === 'string' && typeof j.pid === 'number') holder = { host: j.host, pid: j.pid };
    } catch {
      /* being written */
    }
    return { ...(holder ? { holder } : {}), text, mtimeMs: st.mtimeMs };
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return code(err) === 'ESRCH';
  }
}

function isStale(lock: { holder?: LockHolder; mtimeMs: number }): boolean {
  if (lock.holder?.host === hostname() && lock.holder.pid !== process.pid && processGone(lock.holder.pid)) return true;
  return Date.now() - lock.mtimeMs > STALE_MS;
}

/**
 * Moves a stale lock aside. Another waiter may have taken it over and made a
 * fresh lock in the meantime: one that is not the lock judged stale goes back
 * (link fails if yet another lock is there, which then stands).
 */
async function takeOver(file: string, judged: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => judged);
  if (moved !== judged) await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
}

/** Takes the lock of blob file `partial` (waiting while another run holds it); returns its release. */
export async function lockBlob(partial: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const file = `${partial}.lock`;
  const mine = JSON.stringify({ host: hostname(), pid: process.pid });
  let waited = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(file, 'wx');
      try {
        await fh.writeFile(mine);
      } finally {
        await fh.close();
      }
      const beat = setInterval(() => {
        const now = new Date();
        utimes(file, now, now).catch(() => undefined);
      }, HEARTBEAT_MS);
      beat.unref();
      return async () => {
        clearInterval(beat);
        // (a run that stalled past STALE_MS may have lost it: another's lock stays)
        if ((await readFile(file, 'utf8').catch(() => '')) === mine) await rm(file, { force: true });
      };
    } catch (err) {
      if (code(err) !== 'EEXIST') throw err;
    }
    const lock = await readLock(file);
    if (!lock) continue;
    if (isStale(lock)) {
      await takeOver(file, lock.text);
      continue;
    }
    if (!waited && lock.holder) {
      waited = true;
      opts.onWait?.(lock.holder);
    }
    await sleep(POLL_MS, undefined, opts.signal ? { signal: opts.signal } : {});
  }
}
