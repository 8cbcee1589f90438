// Rendering a chart with the real `helm template` (Helm is the reference
// renderer: subcharts, conditions, tags, aliases, globals and every template
// function behave exactly as at install time). helm runs with its own empty
// cache/config/data directories, so a user's repositories and plugins play no part.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { OperationError, UsageError } from '../../errors.ts';

/**
 * The helm binary to use: `--helm PATH`, else $ASTRAGO_HELM, else `helm` on PATH;
 * undefined when none (the caller walks the values instead). A named one that
 * is not there is a usage error, not a silent fallback.
 */
export function findHelm(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const named = flag ?? (env.ASTRAGO_HELM || undefined);
  if (named) {
    if (!isExecutable(named)) throw new UsageError(`helm not found or not executable: ${named}${flag ? ' (--helm)' : ' ($ASTRAGO_HELM)'}`);
    return named;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, 'helm');
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface TemplateOptions {
  release: string;
  namespace: string;
  /** --kube-version, for charts' kubeVersion constraints and .Capabilities */
  kubeVersion?: string;
  /** values files, in order (later wins) */
  valuesFiles: string[];
  /** names the chart in errors */
  what: string;
}

/** `helm template` of a chart archive or directory; the rendered manifests. Failure: helm's first error line (exit 1). */
export async function helmTemplate(helm: string, chart: string, o: TemplateOptions): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'astrago-helm-'));
  const args = ['template', o.release, chart, '--namespace', o.namespace];
  if (o.kubeVersion) args.push('--kube-version', o.kubeVersion);
  for (const f of o.valuesFiles) args.push('--values', f);
  try {
    const r = await run(helm, args, {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    });
    if (r.code !== 0) throw new OperationError(`${o.what}: helm template failed: ${firstErrorLine(r.stderr) ?? `exit ${r.code}`}`);
    return r.stdout;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** helm's message, without its `Error: ` prefix and its debugging hints. */
export function firstErrorLine(stderr: string): string | undefined {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => l.startsWith('Error:')) ?? lines.find((l) => !/^(WARNING|walk\.go|coalesce\.go)/i.test(l));
  return line?.replace(/^Error:\s*/, '');
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new OperationError(`cannot run helm (${bin}): ${e.message}`)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}
