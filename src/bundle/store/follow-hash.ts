// The sha256 of a file while it is being written, on a worker thread: the
// writer says how far the file is written (a shared counter), the worker reads
// up to there (page cache) and hashes. bundle create's main thread is busy
// with downloads and copying; on two cores this takes the whole-tar hash off
// its critical path.
import { Worker } from 'node:worker_threads';

// Plain CommonJS for an eval'd worker (works from source and in the single binary).
const WORKER_CODE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const seq = new Int32Array(workerData.shared, 0, 4);        // [progress counter, done flag, sleeping flag, always 0]
const written = new Float64Array(workerData.shared, 16, 1); // bytes written so far
// The file's name comes in workerData, or in the first message (a worker started before it was known).
function fileName() {
  if (workerData.file) return workerData.file;
  for (;;) {
    const m = receiveMessageOnPort(parentPort);
    if (m) return (workerData.file = m.message);
    Atomics.wait(seq, 3, 0, 5);
  }
}
try {
  const h = createHash('sha256');
  let fd = -1; // opened at the first bytes: the worker starts before the file exists
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  for (;;) {
    const seen = Atomics.load(seq, 0);
    const end = written[0];
    if (pos < end) {
      if (fd < 0) fd = openSync(fileName(), 'r');
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n <= 0) throw new Error('file shorter than written');
      h.update(buf.subarray(0, n));
      pos += n;
      continue;
    }
    if (Atomics.load(seq, 1) === 1 && pos >= written[0]) break;
    // Say we sleep (the writer wakes us only then), look once more, sleep; the timeout is a safety net.
    Atomics.store(seq, 2, 1);
    if (written[0] <= pos && Atomics.load(seq, 1) !== 1) Atomics.wait(seq, 0, seen, 50);
    Atomics.store(seq, 2, 0);
  }
  if (fd >= 0) closeSync(fd);
  parentPort.postMessage({ hex: h.digest('hex'), bytes: pos });
} catch (e) {
  parentPort.postMessage({ error: e.message });
}
`;

/**
 * A sleeping worker is woken once this much more is written: each wake is a
 * futex call and a thread switch (~40 ms of main-thread time per 550 MB when
 * woken every MiB), and the worker hashes 8 MiB in a few milliseconds.
 */
const WAKE_BYTES = 8 << 20;

export interface FollowHash {
  /** the file is now `bytes` long */
  progress(bytes: number): void;
  /** no more writes: resolves to the sha256 (hex) of all `bytes` */
  finish(): Promise<string>;
  cancel(): void;
}

function startWorker(file: string | undefined): { w: Worker; shared: SharedArrayBuffer } {
  const shared = new SharedArrayBuffer(24);
  // A tiny heap: the worker holds one 1 MiB buffer and a hash state.
  const w = new Worker(WORKER_CODE, { eval: true, workerData: { file, shared }, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4, codeRangeSizeMb: 4, stackSizeMb: 1 } });
  // Never what keeps the process alive, unless finish() waits for it.
  w.unref();
  return { w, shared };
}

let prestarted: { w: Worker; shared: SharedArrayBuffer } | undefined;

/**
 * Starts a worker before the file is known: a Node environment's start-up
 * (~0.1 s of CPU) then runs on the second core while the main thread loads
 * the command's modules, not later beside the downloads. The next
 * followHash() takes it.
 */
export function prestartHashWorker(): void {
  prestarted ??= startWorker(undefined);
}

/** Follows `file` (opened at the first bytes reported) on a worker, the prestarted one if any. */
export function followHash(file: string): FollowHash {
  let started = prestarted;
  prestarted = undefined;
  if (started) started.w.postMessage(file);
  else started = startWorker(file);
  const { w, shared } = started;
  const seq = new Int32Array(shared, 0, 4);
  const written = new Float64Array(shared, 16, 1);
  const result = new Promise<string>((resolve, reject) => {
    w.once('message', (m: { hex?: string; error?: string }) => {
      void w.terminate();
      if (m.hex) resolve(m.hex);
      else reject(new Error(`tar hash: ${m.error ?? 'worker failed'}`));
    });
    w.once('error', reject);
    w.once('exit', () => reject(new Error('tar hash worker stopped')));
  });
  result.catch(() => {}); // awaited (or cancelled) by the caller
  const bump = () => {
    Atomics.add(seq, 0, 1);
    Atomics.notify(seq, 0);
  };
  let woken = 0;
  return {
    progress(bytes) {
      written[0] = bytes;
      // Wake the worker only when it sleeps and has a worthwhile amount to do.
      if (Atomics.load(seq, 2) === 1 && bytes - woken >= WAKE_BYTES) {
        woken = bytes;
        bump();
      }
    },
    finish() {
      w.ref();
      Atomics.store(seq, 1, 1);
      bump();
      return result;
    },
    cancel() {
      void w.terminate();
    },
  };
}
