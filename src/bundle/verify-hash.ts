// The whole tar's sha256 (for FILE.tar.sha256), computed on a worker thread
// so it runs beside verify's per-entry hashing instead of after it: on two
// cores that halves verify's time. Both read the same file; the page cache
// serves the second reader.
import { Worker } from 'node:worker_threads';

// Plain CommonJS for an eval'd worker (works from source and in the single binary).
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
// Synchronous reads into one buffer: this thread does nothing else, and memory stays flat.
try {
  const h = createHash('sha256');
  const fd = openSync(workerData, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) h.update(buf.subarray(0, n));
  closeSync(fd);
  parentPort.postMessage({ hex: h.digest('hex') });
} catch (e) {
  parentPort.postMessage({ error: e.message });
}
`;

export interface FileHash {
  result: Promise<string>;
  /** stops the worker (the walk failed; the hash is not needed) */
  cancel(): void;
}

export function sha256FileInWorker(file: string): FileHash {
  // A tiny heap: the worker holds one 1 MiB buffer and a hash state.
  const w = new Worker(WORKER_CODE, { eval: true, workerData: file, resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4, codeRangeSizeMb: 4, stackSizeMb: 1 } });
  const result = new Promise<string>((resolve, reject) => {
    w.once('message', (m: { hex?: string; error?: string }) => {
      void w.terminate();
      if (m.hex) resolve(m.hex);
      else reject(new Error(m.error ?? 'hash worker failed'));
    });
    w.once('error', reject);
    w.once('exit', () => reject(new Error('hash worker stopped')));
  });
  result.catch(() => {}); // awaited (or cancelled) by the caller
  return { result, cancel: () => void w.terminate() };
}
