// Keeps memory flat during fast downloads. At hundreds of MB/s every socket
// read leaves a 64 KiB buffer behind; the JS objects holding them are tiny, so
// V8 collects them only when its external-memory heuristic fires, and RSS
// climbs by 100+ MB of dead buffers (measured: plain parallel GETs of 550 MB
// reach ~160 MB RSS). A young-generation GC every few MB received frees them
// early; it costs well under a millisecond. Without the hook (flags refused),
// nothing happens and memory is merely higher.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (opts?: { type?: 'minor' | 'major' }) => void;

let gc: Gc | undefined | null;

function getGc(): Gc | undefined {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as Gc;
    } catch {
      gc = null;
    }
  }
  return gc ?? undefined;
}

/** Returns a byte counter that runs a minor GC after every `every` bytes. */
export function gcNudger(every = 8 << 20): (n: number) => void {
  const collect = getGc();
  if (!collect) return () => undefined;
  let since = 0;
  return (n) => {
    since += n;
    if (since >= every) {
      since = 0;
      collect({ type: 'minor' });
    }
  };
}
