// Runs the CLI as a user would: the built single binary build/astrago-check
// (built once with `npm run build` when missing), or the source when
// AC_TEST_FROM_SOURCE=1 (fast edit-test loops while the binary is being rebuilt).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BINARY = join(ROOT, 'build', 'astrago-check');

export function ensureBinary(): string {
  if (!existsSync(BINARY)) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}` } });
    if (r.status !== 0 || !existsSync(BINARY)) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
  }
  return BINARY;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command line that runs the CLI: the binary, or node on the source with AC_TEST_FROM_SOURCE=1 (for tests that spawn it themselves). */
export function cliCommand(): string[] {
  return process.env.AC_TEST_FROM_SOURCE === '1' ? [process.execPath, join(ROOT, 'src', 'cli', 'main.ts')] : [ensureBinary()];
}

/** Runs the binary with `args`; env replaces the environment (PATH kept unless given). */
/** `wrap` runs the binary through another command, e.g. ['unshare', '--uts', ...]. */
export async function runBinary(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number; wrap?: string[] } = {}): Promise<RunResult> {
  const argv = [...(opts.wrap ?? []), ...cliCommand(), ...args];
  const env = opts.env ?? { PATH: process.env.PATH, HOME: process.env.HOME };
  return await new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
