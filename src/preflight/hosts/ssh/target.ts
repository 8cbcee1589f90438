// What the site file says about one node's SSH login, and how connectSsh should go about it.
import type { Duplex } from 'node:stream';

export interface SshTarget {
  /** Node name in reports. */
  name: string;
  address: string;
  port?: number;
  user?: string;
  keyFile?: string;
  passphraseEnv?: string;
  passwordEnv?: string;
  passwordFile?: string;
  knownHostsFile?: string;
  sudo?: boolean;
}

export interface SshConnectOptions {
  /** TCP connect + handshake + authentication must finish within this. */
  connectTimeoutMs: number;
  acceptNewHostKeys?: boolean;
  /** false: no batch reads (prefetch does nothing); every fact is asked for on its own. */
  batchReads?: boolean;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** Base directory for relative keyFile/passwordFile/knownHostsFile paths (the site file's). */
  baseDir?: string;
  home?: string;
  /** How to reach address:port (default: a TCP connection from here; through jump hosts: ssh/jump.ts). */
  dial?(address: string, port: number, o: { timeoutMs: number; signal?: AbortSignal }): Promise<Duplex>;
}
