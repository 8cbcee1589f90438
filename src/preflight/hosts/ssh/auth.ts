// SSH authentication methods from a site node's settings: keys, agent, password.
// Secrets come only from the named env var or file; errors name the reference, never the value.
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { SshTarget } from './target.ts';
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
export function authMethods(
  t: SshTarget,
  user: string,
  env: NodeJS.ProcessEnv,
  home: string,
  resolvePath: (p: string) => string,
): { methods: AuthMethod[]; problems: string[]; fixes: { problem: string; fix: string }[] } {
  const methods: AuthMethod[] = [];
  const fixes: { problem: string; fix: string }[] = [];
  const problem = (text: string, fix: string) => fixes.push({ problem: text, fix });
  const unset = (field: string, name: string, what: string) =>
    problem(`ssh.${field} names ${name}, which is not set`, `set ${name} to ${what} in the environment of astrago-check (e.g. read -rs ${name} && export ${name}), or fix ssh.${field} in the site file`);
  const passphrase = t.passphraseEnv ? env[t.passphraseEnv] : undefined;
  if (t.passphraseEnv && passphrase === undefined) unset('passphraseEnv', t.passphraseEnv, "the key's passphrase");
  const keyFiles = t.keyFile
    ? [resolvePath(expandHome(t.keyFile, home))]
    : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => `${home}/.ssh/${f}`);
  for (const file of keyFiles) {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      if (t.keyFile) problem(`key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, `check ssh.keyFile in the site file (relative paths are relative to the site file); the key must be readable by the user running astrago-check`);
      continue;
    }
    const parsed = utils.parseKey(data, passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      if (!encrypted) problem(`key file ${file} is not a private key ssh2 can read`, `give ssh.keyFile an OpenSSH or PEM private key (ssh-keygen -t ed25519 makes one)`);
      else if (passphrase === undefined && !t.passphraseEnv) problem(`key file ${file} is encrypted: name the variable holding its passphrase in ssh.passphraseEnv`, `add ssh.passphraseEnv: VARIABLE to the node in the site file and export VARIABLE with the passphrase`);
      else if (passphrase !== undefined) problem(`key file ${file} is encrypted: the passphrase in ${t.passphraseEnv} does not decrypt it`, `set ${t.passphraseEnv} to the passphrase of ${file} (ssh-keygen -y -f ${file} tells whether it is right)`);
      continue;
    }
    methods.push({ type: 'publickey', username: user, key: data, ...(passphrase !== undefined ? { passphrase } : {}), label: `publickey ${file}` });
  }
  if (env.SSH_AUTH_SOCK) methods.push({ type: 'agent', username: user, agent: env.SSH_AUTH_SOCK, label: 'agent' });
  let password: string | undefined;
  if (t.passwordEnv) {
    password = env[t.passwordEnv];
    if (password === undefined) unset('passwordEnv', t.passwordEnv, `the password of ${user}`);
  } else if (t.passwordFile) {
    const file = resolvePath(expandHome(t.passwordFile, home));
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problem(`ssh.passwordFile ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, `check ssh.passwordFile in the site file (relative paths are relative to the site file)`);
    }
  }
  if (password !== undefined) methods.push({ type: 'password', username: user, password, label: 'password' });
  return { methods, problems: fixes.map((f) => f.problem), fixes };
}
