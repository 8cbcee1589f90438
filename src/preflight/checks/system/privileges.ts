// host.privileges: who the probes run as. Root sees everything; a user with
// passwordless sudo can re-run root-only checks; otherwise they are skipped.
import { defineCheck, type Judgement } from '../../types.ts';

export interface PrivilegeFacts {
  uid: number;
  user?: string;
  /** `sudo -n true`: 'ok', 'password' (needs a password or not allowed), 'missing' (no sudo); absent for root. */
  sudo?: 'ok' | 'password' | 'missing';
}

export function judgePrivileges(f: PrivilegeFacts): Judgement {
  const who = `${f.user ?? 'uid'} (uid ${f.uid})`;
  if (f.uid === 0) return { status: 'pass', message: `running as root: every check can run`, facts: { ...f } };
  if (f.sudo === 'ok') {
    return {
      status: 'pass',
      message: `running as ${who}; passwordless sudo works, so root-only checks can be re-run with sudo`,
      facts: { ...f },
    };
  }
  const user = f.user ?? '<user>';
  const why = f.sudo === 'missing' ? 'sudo is not installed' : 'sudo asks for a password or is not allowed';
  return {
    status: 'warn',
    message: `running as ${who} and ${why}: root-only checks are skipped`,
    facts: { ...f },
    remediation:
      `run as root (sudo astrago-check ...), or let ${user} sudo without a password: ` +
      `echo '${user} ALL=(ALL) NOPASSWD: ALL' | sudo tee /etc/sudoers.d/astrago && sudo chmod 440 /etc/sudoers.d/astrago`,
  };
}

export const privilegesCheck = defineCheck<PrivilegeFacts | null>({
  id: 'host.privileges',
  category: 'accounts',
  title: 'Privileges of the checking user',
  // On this machine only: over SSH, ssh.sudo reports the same for the SSH user.
  async probe({ host, signal }) {
    if (host.kind !== 'local') return null;
    const uid = await host.uid();
    const id = await host.exec(['id', '-un'], { signal });
    const user = id.code === 0 ? id.stdout.trim() : undefined;
    if (uid === 0) return { uid, user };
    const s = await host.exec(['sudo', '-n', 'true'], { signal, sudo: false });
    return { uid, user, sudo: s.code === 0 ? 'ok' : s.code === 127 ? 'missing' : 'password' };
  },
  judge: (f) => (f ? judgePrivileges(f) : []),
});
