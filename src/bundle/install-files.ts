// Small text files bundle install writes into the charts directory (values,
// runtime mirrors), each through a temp name and a rename, so a failure
// half-way leaves no partial file under a final name.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OperationError } from '../errors.ts';

export interface TextFile {
  /** path relative to the directory */
  path: string;
  content: string;
}

export async function writeTextFiles(dir: string, files: TextFile[]): Promise<void> {
  for (const f of files) {
    const dest = join(dir, f.path);
    const tmp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}`);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(tmp, f.content);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new OperationError(`disk full while writing ${dest}: no partial file is left. Free some space or choose another --charts-dir.`, { cause: err });
      throw err;
    }
  }
}
