// Facts several checks of one node share (the PCI tree, nvidia-smi's report, the
// driver module), read once per Host: nvidia-smi takes seconds on an 8-GPU node, and
// the site checks, which run after the node checks, reuse what those read.
import type { Host } from '../../../types.ts';

const memo = new WeakMap<Host, Map<string, Promise<unknown>>>();

/**
 * `read()` once per host and key. A read that fails is forgotten; a caller whose own
 * signal is still live reads again when another caller's read was aborted under it.
 */
export async function once<T>(host: Host, key: string, signal: AbortSignal, read: (signal: AbortSignal) => Promise<T>): Promise<T> {
  let byKey = memo.get(host);
  if (!byKey) memo.set(host, (byKey = new Map()));
  const start = () => {
    const p = read(signal);
    byKey.set(key, p);
    p.catch(() => byKey.get(key) === p && byKey.delete(key));
    return p;
  };
  const pending = byKey.get(key) as Promise<T> | undefined;
  if (!pending) return start();
  try {
    return await pending;
  } catch (err) {
    if (signal.aborted) throw err;
    return start();
  }
}
