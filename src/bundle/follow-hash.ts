// The sha256 of a file while it is being written, on a worker thread: the
// writer says how far the file is written (a shared counter), the worker reads
// up to there (page cache) and hashes. bundle create's main thread is busy
// with downloads and copying; on two cores this takes the whole-tar hash off
// its critical path.
import { Worker } from 'node:worker_threads';

// Plain CommonJS for an eval'd worker (works from source and in the single binary).
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const seq = new Int32Array(workerData.shared, 0, 2);       // [progress counter, done flag]
const written = new Float64Array(workerData.shared, 8, 1); // bytes written so far
try {
  const h = createHash('sha256');
  const fd = openSync(workerData.file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  for (;;) {
    const seen = Atomics.load(seq, 0);
    const end = written[0];
    if (pos < end) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n <= 0) throw new Error('file shorter than written');
      h.update(buf.subarray(0, n));
      pos += n;
      continue;
    }
    if (Atomics.load(seq, 1) === 1 && pos >= written[0]) break;
    Atomics.wait(seq, 0, seen, 200);
  }
  closeSync(fd);
  parentPort.postMessage({ hex: h.digest('hex'), bytes: pos });
} catch (e) {
  parentPort.postMessage({ error: e.message });
}
`;

export interface FollowHash {
  /** the file is now `bytes` long */
  progress(bytes: number): void;
  /** no more writes: resolves to the sha256 (hex) of all `bytes` */
  finish(): Promise<string>;
  cancel(): void;
}

export function followHash(file: string): FollowHash {
  const shared = new SharedArrayBuffer(16);
  const seq = new Int32Array(shared, 0, 2);
  const written = new Float64Array(shared, 8, 1);
  // A tiny heap: the worker holds one 1 MiB buffer and a hash state.
  const w = new Worker(WORKER_CODE, { eval: true, workerData: { file, shared }, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4, codeRangeSizeMb: 4, stackSizeMb: 1 } });
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
  return {
    progress(bytes) {
      written[0] = bytes;
      bump();
    },
    finish() {
      Atomics.store(seq, 1, 1);
      bump();
      return result;
    },
    cancel: () => void w.terminate(),
  };
}
