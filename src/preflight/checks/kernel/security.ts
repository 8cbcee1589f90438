// security.selinux and security.apparmor: the mode of each LSM and whether
// it survives a reboot.
import { defineCheck, type Judgement } from '../../types.ts';
import { read, run } from './host-io.ts';

export type SelinuxMode = 'enforcing' | 'permissive' | 'disabled';

export interface SelinuxFacts {
  /** Output of getenforce, lower-cased; null when the command is absent. */
  getenforce: string | null;
  /** /sys/fs/selinux/enforce: "1" | "0" | null (no selinuxfs = disabled). */
  enforceFile: string | null;
  /** SELINUX= in /etc/selinux/config (the mode at next boot). */
  configured: string | null;
}

export function selinuxMode(f: SelinuxFacts): SelinuxMode {
  const g = f.getenforce?.trim().toLowerCase();
  if (g === 'enforcing' || g === 'permissive' || g === 'disabled') return g;
  if (f.enforceFile?.trim() === '1') return 'enforcing';
  if (f.enforceFile?.trim() === '0') return 'permissive';
  return 'disabled';
}

export const securitySelinux = defineCheck<SelinuxFacts>({
  id: 'security.selinux',
  category: 'security',
  title: 'SELinux mode',
  gather: () => ({ files: ['/sys/fs/selinux/enforce', '/etc/selinux/config'], commands: [['getenforce']] }),
  async probe(ctx) {
    const g = await run(ctx, ['getenforce']);
    const enforceFile = await read(ctx, '/sys/fs/selinux/enforce');
    const config = await read(ctx, '/etc/selinux/config');
    const configured = /^\s*SELINUX\s*=\s*(\w+)/m.exec(config ?? '')?.[1]?.toLowerCase() ?? null;
    return { getenforce: g && g.code === 0 ? g.stdout.trim() : null, enforceFile: enforceFile?.trim() ?? null, configured };
  },
  judge(f, ctx): Judgement {
    const mode = selinuxMode(f);
    const allowed = ctx.profile.kernel.selinux;
    const facts = { mode, ...f, allowed };
    const target = allowed.includes('permissive') ? 'permissive' : allowed[0] ?? 'permissive';
    const fix = `setenforce 0\nsed -i 's/^SELINUX=.*/SELINUX=${target}/' /etc/selinux/config   # persists across reboots`;
    if (!allowed.includes(mode)) {
      return { status: 'fail', message: `SELinux is ${mode}; the profile allows ${allowed.join(', ')}`, remediation: fix, facts };
    }
    if (f.configured && f.configured !== mode && !allowed.includes(f.configured as SelinuxMode)) {
      return { status: 'warn', message: `SELinux is ${mode} now but /etc/selinux/config sets ${f.configured} at next boot`, remediation: fix, facts };
    }
    return { status: 'pass', message: mode === 'disabled' && !f.getenforce && !f.enforceFile ? 'SELinux is not present (disabled)' : `SELinux is ${mode}`, facts };
  },
});

export interface ApparmorFacts {
  /** /sys/module/apparmor/parameters/enabled: "Y" | "N" | null (not in this kernel). */
  enabled: string | null;
  /** Profiles by mode, from /sys/kernel/security/apparmor/profiles (root). */
  profiles: { enforce: number; complain: number } | null;
  isRoot: boolean;
}

export const securityApparmor = defineCheck<ApparmorFacts>({
  id: 'security.apparmor',
  category: 'security',
  title: 'AppArmor mode',
  gather: () => ({ files: ['/sys/module/apparmor/parameters/enabled'] }),
  async probe(ctx) {
    const enabled = (await read(ctx, '/sys/module/apparmor/parameters/enabled'))?.trim() ?? null;
    let profiles: ApparmorFacts['profiles'] = null;
    const list = ctx.isRoot ? await read(ctx, '/sys/kernel/security/apparmor/profiles') : null;
    if (list !== null) {
      const lines = list.split('\n').filter(Boolean);
      profiles = { enforce: lines.filter((l) => l.endsWith('(enforce)')).length, complain: lines.filter((l) => l.endsWith('(complain)')).length };
    }
    return { enabled, profiles, isRoot: ctx.isRoot };
  },
  judge(f): Judgement {
    // containerd and kubelet work with AppArmor enabled (they load their own
    // default profile), so every mode passes; the mode is reported for the checklist.
    if (f.enabled === null) return { status: 'pass', message: 'AppArmor is not in this kernel', facts: { ...f, mode: 'absent' } };
    if (f.enabled.toUpperCase() !== 'Y') return { status: 'pass', message: 'AppArmor is disabled', facts: { ...f, mode: 'disabled' } };
    const counts = f.profiles ? ` (${f.profiles.enforce} profiles enforcing, ${f.profiles.complain} complaining)` : f.isRoot ? '' : ' (profile counts need root: sudo aa-status)';
    return { status: 'pass', message: `AppArmor is enabled${counts}; containerd applies its default profile to containers`, facts: { ...f, mode: 'enabled' } };
  },
});
