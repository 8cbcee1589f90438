// A real sshd on 127.0.0.1 and an SSH Host logged in to it as root: for tests that run
// the same probes over SSH and locally against this one machine.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSsh } from '../../src/preflight/hosts/ssh/connect.ts';
import type { Host } from '../../src/preflight/types.ts';
import { freePort } from './process.ts';
import { makeKey, startSshd } from './sshd.ts';

export interface SelfSsh {
  /** Temp directory holding the sshd's config and keys (removed by close). */
  dir: string;
  host: Host;
  /** Another connection to the same sshd as `user` (its dir is readable to every user). */
  connectAs(user: string): Promise<Host>;
  close(): Promise<void>;
}

export async function sshToSelf(prefix: string): Promise<SelfSsh> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755); // sshd reads authorized_keys as the user logging in
  const key = makeKey(join(dir, 'id_ed25519'));
  const port = await freePort();
  const sshd = await startSshd({ dir, address: '127.0.0.1', ports: [port], authorizedKeys: [key.publicKey] });
  writeFileSync(join(dir, 'known_hosts'), sshd.knownHostsLine(port) + '\n');
  const connectAs = (user: string) =>
    connectSsh(
      { name: 'self-ssh', address: '127.0.0.1', port, user, keyFile: key.privateKeyFile, knownHostsFile: join(dir, 'known_hosts') },
      { connectTimeoutMs: 10_000 },
    );
  const host = await connectAs('root');
  return {
    dir,
    host,
    connectAs,
    async close() {
      await host.close();
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
