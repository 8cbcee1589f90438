// --output FILE for any command: written next to the target and renamed, so a
// failure never leaves a half-written file under the final name.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** writeAtomically, where a directory that does not exist or cannot be written is a bad --output (exit 2); `what` names the file, e.g. 'the workbook'. */
export function writeOutputFile(cmd: string, file: string, data: string | Uint8Array, what = 'the file'): void {
  try {
    writeAtomically(file, data);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EROFS') {
      throw new UsageError(`${cmd}: --output ${file}: cannot write ${what} (${code})`);
    }
    throw err;
  }
}
