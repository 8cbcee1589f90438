// kernel.cgroup: cgroup v1 or v2 (unified), against the profile.
import { defineCheck, type Judgement } from '../../types.ts';
import { read } from './host-io.ts';

export interface CgroupFacts {
  /** Contents of /sys/fs/cgroup/cgroup.controllers (v2 only). */
  controllers: string | null;
  /** cgroup mounts from /proc/mounts: "fstype mountpoint". */
  mounts: string[];
}

export type CgroupMode = 'v2' | 'hybrid' | 'v1' | 'unknown';

export function cgroupMode(f: CgroupFacts): CgroupMode {
  const v2Root = f.controllers !== null || f.mounts.some((m) => m === 'cgroup2 /sys/fs/cgroup');
  if (v2Root) return 'v2';
  const v1 = f.mounts.some((m) => m.startsWith('cgroup '));
  const v2 = f.mounts.some((m) => m.startsWith('cgroup2 '));
  if (v1 && v2) return 'hybrid';
  if (v1) return 'v1';
  return 'unknown';
}

export const kernelCgroup = defineCheck<CgroupFacts>({
  id: 'kernel.cgroup',
  category: 'os',
  title: 'cgroup version',
  gather: () => ({ files: ['/sys/fs/cgroup/cgroup.controllers', '/proc/mounts'] }),
  async probe(ctx) {
    const controllers = await read(ctx, '/sys/fs/cgroup/cgroup.controllers');
    const mounts = ((await read(ctx, '/proc/mounts')) ?? '')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((p) => p[2] === 'cgroup' || p[2] === 'cgroup2')
      .map((p) => `${p[2]} ${p[1]}`);
    return { controllers: controllers === null ? null : controllers.trim(), mounts };
  },
  judge(f, ctx): Judgement {
    const mode = cgroupMode(f);
    const want = ctx.profile.kernel.cgroup;
    const facts = { mode, ...f };
    const toV2 =
      'enable the unified hierarchy: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, ' +
      'then update-grub (Debian/Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg (RHEL; or: grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1), and reboot';
    if (mode === 'unknown') return { status: 'warn', message: 'no cgroup filesystem found in /proc/mounts', facts };
    if (want === 'v2' && mode !== 'v2') return { status: 'fail', message: `cgroup ${mode}; the profile requires v2`, remediation: toV2, facts };
    if (want === 'v1' && mode === 'v2') {
      return { status: 'fail', message: 'cgroup v2; the profile requires v1', remediation: 'add systemd.unified_cgroup_hierarchy=0 to the kernel command line (GRUB_CMDLINE_LINUX), regenerate grub.cfg and reboot', facts };
    }
    const note = mode === 'v2' ? '' : ' (Kubernetes keeps cgroup v1 in maintenance mode; v2 is recommended)';
    return { status: 'pass', message: `cgroup ${mode}${note}`, facts };
  },
});
