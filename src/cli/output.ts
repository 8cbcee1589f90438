// --output FILE for any command: written next to the target and renamed, so a
// failure never leaves a half-written file under the final name.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../errors.ts';

/** Writes `data` to a temp name beside `file`, then renames it; on failure the temp file is removed and the error thrown. */
export function writeAtomically(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * writeAtomically into FILE's directory, created when missing (as preflight and bundle create
 * do); one that cannot be made or written is a bad `flag` (exit 2). `what` names the file, e.g. 'the workbook'.
 */
export function writeOutputFile(cmd: string, file: string, data: string | Uint8Array, what = 'the file', flag = '--output'): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeAtomically(file, data);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EROFS' || code === 'EEXIST') {
      throw new UsageError(`${cmd}: ${flag} ${file}: cannot write ${what} (${code}: ${(err as Error).message})`);
    }
    throw err;
  }
}
