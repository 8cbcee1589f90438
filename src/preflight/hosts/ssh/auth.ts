// SSH authentication methods from a site node's settings: keys, agent, password.
// Secrets come only from the named env var or file; errors name the reference, never the value.
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { SshTarget } from '../ssh.ts';
import { expandHome } from '../known-hosts.ts';

const { utils } = ssh2;

export type AuthMethod =
  | { type: 'publickey'; username: string; key: Buffer; passphrase?: string; label: string }
  | { type: 'agent'; username: string; agent: string; label: string }
  | { type: 'password'; username: string; password: string; label: string };

/**
 * The authentication methods to try, in OpenSSH's order: the configured key (or the
 * default ~/.ssh/id_* keys), the agent, then a password. Secrets come only from the
 * named env var / file; errors name the reference, never the value.
 */
export function authMethods(t: SshTarget, user: string, env: NodeJS.ProcessEnv, home: string, resolvePath: (p: string) => string): { methods: AuthMethod[]; problems: string[] } {
  const methods: AuthMethod[] = [];
  const problems: string[] = [];
  const passphrase = t.passphraseEnv ? env[t.passphraseEnv] : undefined;
  if (t.passphraseEnv && passphrase === undefined) problems.push(`ssh.passphraseEnv names ${t.passphraseEnv}, which is not set`);
  const keyFiles = t.keyFile
    ? [resolvePath(expandHome(t.keyFile, home))]
    : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => `${home}/.ssh/${f}`);
  for (const file of keyFiles) {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      if (t.keyFile) problems.push(`key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      continue;
    }
    const parsed = utils.parseKey(data, passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      problems.push(
        encrypted
          ? `key file ${file} is encrypted: ${passphrase === undefined ? 'name the variable holding its passphrase in ssh.passphraseEnv' : `the passphrase in ${t.passphraseEnv} does not decrypt it`}`
          : `key file ${file} is not a private key ssh2 can read`,
      );
      continue;
    }
    methods.push({ type: 'publickey', username: user, key: data, ...(passphrase !== undefined ? { passphrase } : {}), label: `publickey ${file}` });
  }
  if (env.SSH_AUTH_SOCK) methods.push({ type: 'agent', username: user, agent: env.SSH_AUTH_SOCK, label: 'agent' });
  let password: string | undefined;
  if (t.passwordEnv) {
    password = env[t.passwordEnv];
    if (password === undefined) problems.push(`ssh.passwordEnv names ${t.passwordEnv}, which is not set`);
  } else if (t.passwordFile) {
    const file = resolvePath(expandHome(t.passwordFile, home));
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`ssh.passwordFile ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  if (password !== undefined) methods.push({ type: 'password', username: user, password, label: 'password' });
  return { methods, problems };
}
