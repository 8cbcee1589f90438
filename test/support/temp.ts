// Temp directories for tests: tempDir('ac-x-') makes one under the OS temp dir;
// all of them are removed when the test process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
let hooked = false;

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => made.forEach((x) => rmSync(x, { recursive: true, force: true })));
  }
  return d;
}
