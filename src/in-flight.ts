// What the process is working on, for the last-resort handler (cli/fatal.ts):
// an error nothing caught (a dependency's assertion thrown from a socket
// event, a promise nobody awaited) names the items in flight, and the temp
// files registered here are removed before the process exits.
let next = 0;
const items = new Map<number, string>();
const cleanups = new Set<() => void>();

/** Runs `fn` with `what` (e.g. 'fetching file helm (https://…)') listed as in flight. */
export async function inFlight<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const id = next++;
  items.set(id, what);
  try {
    return await fn();
  } finally {
    items.delete(id);
  }
}

/** The items in flight now, oldest first. */
export function itemsInFlight(): string[] {
  return [...items.values()];
}

/** Registers a synchronous cleanup (remove a temp file) for a fatal exit; returns its removal. */
export function onFatalExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs every registered cleanup (each at most once; a failing one does not stop the rest). */
export function runFatalCleanups(): void {
  for (const c of [...cleanups]) {
    cleanups.delete(c);
    try {
      c();
    } catch {
      /* the exit goes on */
    }
  }
}
