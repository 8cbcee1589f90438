// kernel.version: the running kernel against the profile minimum.
import { defineCheck } from '../../types.ts';
import { read, run } from './host-io.ts';

export interface KernelVersionFacts {
  release: string | null;
}

/** Numeric parts of "5.15.0-91-generic" -> [5, 15, 0]. */
export function versionParts(v: string): number[] {
  const m = /^(\d+(?:\.\d+)*)/.exec(v.trim());
  return m ? m[1]!.split('.').map(Number) : [];
}

export function compareVersions(a: string, b: string): number {
  const x = versionParts(a);
  const y = versionParts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export const kernelVersion = defineCheck<KernelVersionFacts>({
  id: 'kernel.version',
  category: 'os',
  title: 'Kernel version',
  gather: () => ({ files: ['/proc/sys/kernel/osrelease'] }),
  async probe(ctx) {
    const fromProc = await read(ctx, '/proc/sys/kernel/osrelease');
    if (fromProc?.trim()) return { release: fromProc.trim() };
    const r = await run(ctx, ['uname', '-r']);
    return { release: r && r.code === 0 ? r.stdout.trim() : null };
  },
  judge(facts, ctx) {
    const min = ctx.profile.kernel.minVersion;
    if (!facts.release || versionParts(facts.release).length === 0) {
      return { status: 'error', message: 'kernel release unknown: /proc/sys/kernel/osrelease and `uname -r` gave nothing', facts: { ...facts, minVersion: min } };
    }
    if (compareVersions(facts.release, min) >= 0) {
      return { status: 'pass', message: `kernel ${facts.release} (minimum ${min})`, facts: { ...facts, minVersion: min } };
    }
    return {
      status: 'fail',
      message: `kernel ${facts.release} is older than the required ${min}`,
      remediation: `install a kernel >= ${min} from the OS vendor (e.g. apt install linux-generic-hwe-* / dnf install kernel), make it the boot default (grub), and reboot`,
      facts: { ...facts, minVersion: min },
    };
  },
});
