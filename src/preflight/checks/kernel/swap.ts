// kernel.swap: kubelet refuses to start with swap on (unless configured for it).
import { defineCheck, type Judgement } from '../../types.ts';
import { read } from './host-io.ts';

export interface SwapFacts {
  /** Active swap areas from /proc/swaps; null when unreadable. */
  active: { device: string; type: string; sizeKiB: number }[] | null;
  /** Swap entries in /etc/fstab that would come back at boot. */
  fstab: string[];
}

export function parseProcSwaps(text: string): { device: string; type: string; sizeKiB: number }[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p.length >= 3 && p[0])
    .map((p) => ({ device: p[0]!, type: p[1]!, sizeKiB: Number(p[2]) }));
}

export function fstabSwapLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && l.split(/\s+/)[2] === 'swap');
}

const FIX = `swapoff -a\nsed -ri '/^[^#].*\\sswap\\s/ s/^/#/' /etc/fstab   # keep it off after reboot\nsystemctl mask "$(systemctl list-units --type swap --no-legend | awk '{print $1}')" 2>/dev/null || true`;

export const kernelSwap = defineCheck<SwapFacts>({
  id: 'kernel.swap',
  category: 'os',
  title: 'Swap is off',
  gather: () => ({ files: ['/proc/swaps', '/etc/fstab'] }),
  async probe(ctx) {
    const swaps = await read(ctx, '/proc/swaps');
    const fstab = await read(ctx, '/etc/fstab');
    return { active: swaps === null ? null : parseProcSwaps(swaps), fstab: fstab ? fstabSwapLines(fstab) : [] };
  },
  judge(f, ctx): Judgement {
    if (ctx.profile.kernel.swapAllowed) return { status: 'pass', message: `swap allowed by the profile (${f.active?.length ?? '?'} active)`, facts: { ...f } };
    if (f.active === null) return { status: 'error', message: '/proc/swaps could not be read', facts: { ...f } };
    if (f.active.length) {
      return {
        status: 'fail',
        message: `swap is on: ${f.active.map((s) => `${s.device} (${Math.round(s.sizeKiB / 1024)} MiB)`).join(', ')}; kubelet will not start`,
        remediation: FIX,
        facts: { ...f },
      };
    }
    if (f.fstab.length) {
      return { status: 'warn', message: `swap is off now, but /etc/fstab turns it on at boot: ${f.fstab.join('; ')}`, remediation: FIX, facts: { ...f } };
    }
    return { status: 'pass', message: 'swap is off', facts: { ...f } };
  },
});
