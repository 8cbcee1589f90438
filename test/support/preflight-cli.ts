// Runs `astrago-check` for preflight integration tests: the built binary (as a
// user would), or the source when AC_TEST_FROM_SOURCE=1 (fast edit-test loops
// while another engineer rebuilds build/astrago-check).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, runBinary, type RunResult } from './run-binary.ts';

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Runs the CLI through another command, e.g. ['ip', 'netns', 'exec', NAME]. */
  wrap?: string[];
  timeoutMs?: number;
}

export async function runCli(args: string[], opts: CliOptions = {}): Promise<RunResult> {
  if (process.env.AC_TEST_FROM_SOURCE !== '1') return await runBinary(args, opts);
  const argv = [...(opts.wrap ?? []), process.execPath, join(ROOT, 'src', 'cli', 'main.ts'), ...args];
  return await new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd ?? ROOT, env: opts.env ?? { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
