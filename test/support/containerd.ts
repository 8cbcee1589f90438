// A real containerd (Debian `containerd`) for tests: its own root, state and
// socket under a temp directory, no systemd; `ctr` talks to it.
//
//   const ctd = await startContainerd();
//   await ctd.pull('127.0.0.1:5001/team/app:v1', hostsDir)   // ctr images pull --hosts-dir (namespace 'test')
//   ctd.imageDigest(ref)                                     // the target digest ctr recorded
//   (a namespace argument: containerd keeps content per namespace, so a pull there fetches every blob again)
//   await ctd.stop()                                          // kills it, removes its directories
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess } from './process.ts';

const execFileP = promisify(execFile);

export interface TestContainerd {
  socket: string;
  pull(ref: string, hostsDir: string, timeoutMs?: number, namespace?: string): Promise<void>;
  imageDigest(ref: string, namespace?: string): Promise<string | undefined>;
  output(): string;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<TestContainerd> {
  const dir = mkdtempSync(join(tmpdir(), 'ac-ctd-'));
  const socket = join(dir, 'sock');
  const config = join(dir, 'config.toml');
  // Only what a pull needs: no CRI, the native snapshotter (no overlay mounts).
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const proc = startProcess(['containerd', '--config', config]);
  const deadline = Date.now() + 20_000;
  while (!existsSync(socket)) {
    if (proc.child.exitCode !== null) throw new Error(`containerd exited with ${proc.child.exitCode}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`containerd did not create ${socket}:\n${proc.output()}`);
    await sleep(100);
  }
  const ctr = (args: string[], timeout = 60_000, namespace = 'test') => execFileP('ctr', ['-a', socket, '-n', namespace, ...args], { timeout, encoding: 'utf8' });
  return {
    socket,
    async pull(ref, hostsDir, timeoutMs = 60_000, namespace = 'test') {
      await ctr(['images', 'pull', '--snapshotter', 'native', '--hosts-dir', hostsDir, ref], timeoutMs, namespace);
    },
    async imageDigest(ref, namespace = 'test') {
      const { stdout } = await ctr(['images', 'ls'], 60_000, namespace);
      const line = stdout.split('\n').find((l) => l.split(/\s+/)[0] === ref);
      return line?.split(/\s+/).find((w) => w.startsWith('sha256:'));
    },
    output: () => proc.output(),
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
