// Pure judgements of the GPU site checks: what must be the same on every GPU node —
// driver version, OS release and kernel, GPU model and count, RDMA port rate.
import type { Profile } from '../../../schema/profile.ts';
import type { Judgement } from '../../types.ts';
import { aptPin, fixFor } from '../gpu/rules/fix.ts';

/** One GPU node's value (undefined with the reason in `error` when it was not read). */
export interface SiteSample {
  node: string;
  value?: string;
  error?: string;
}

interface Same {
  /** e.g. "NVIDIA driver" */
  what: string;
  differs: 'fail' | 'warn';
  remediation: (majority: string) => string;
  /** The judgement when no node has a value at all (default: skip). */
  none?: Judgement;
}

/** The same value on every GPU node that told one; no result for a site without GPU nodes. */
export function judgeSameAcross(samples: SiteSample[], s: Same): Judgement[] {
  if (samples.length === 0) return [];
  const facts = {
    values: Object.fromEntries(samples.map((x) => [x.node, x.value ?? null])),
    errors: Object.fromEntries(samples.filter((x) => x.error).map((x) => [x.node, x.error])),
  };
  const missing = samples.filter((x) => x.value === undefined);
  const note = missing.length ? `; not read on ${missing.map((x) => `${x.node} (${x.error ?? 'unknown'})`).join(', ')}` : '';
  const groups = new Map<string, string[]>();
  for (const x of samples) if (x.value !== undefined) groups.set(x.value, [...(groups.get(x.value) ?? []), x.node]);
  if (groups.size === 0) return [s.none ? { ...s.none, facts } : { status: 'skip', message: `no GPU node told its ${s.what}${note}`, facts }];
  const valued = samples.length - missing.length;
  if (valued < 2) return [{ status: 'skip', message: `only ${[...groups.values()][0]![0]} told its ${s.what} (${[...groups.keys()][0]}): nothing to compare${note}`, facts }];
  if (groups.size === 1) return [{ status: 'pass', message: `${s.what} ${[...groups.keys()][0]} on all ${valued} GPU nodes${note}`, facts }];
  const ranked = [...groups].sort((a, b) => b[1].length - a[1].length);
  const majority = ranked[0]![0];
  return [
    {
      status: s.differs,
      message: `${s.what} differs across GPU nodes: ${ranked.map(([v, nodes]) => `${v} on ${nodes.join(', ')}`).join('; ')}${note}`,
      remediation: s.remediation(majority),
      facts: { ...facts, majority },
    },
  ];
}

export function judgeSiteDriver(samples: SiteSample[], profile: Profile): Judgement[] {
  const operator = profile.gpu.driver === 'operator';
  return judgeSameAcross(samples, {
    what: 'NVIDIA driver',
    differs: 'fail',
    none: operator ? { status: 'pass', message: "no host driver on any GPU node: the GPU Operator installs one version on all (gpu.driver: operator)" } : undefined,
    remediation: (v) =>
      operator
        ? `remove the host drivers (see gpu.driver on each node): the GPU Operator installs driver.version on every GPU node`
        : fixFor(
            { debian: `sudo apt-get install -y ${aptPin(`nvidia-driver-${v.split('.')[0]}-server`, v)} && sudo reboot`, rhel: `sudo dnf install -y nvidia-driver-${v} && sudo reboot` },
            undefined,
            `install ${v} (the most common version) on the others, or the version you chose for all`,
          ),
  });
}

export function judgeSiteOs(samples: SiteSample[]): Judgement[] {
  return judgeSameAcross(samples, {
    what: 'OS release and kernel',
    differs: 'warn',
    remediation: (v) => {
      const kernel = v.split(', kernel ')[1] ?? '<release>';
      return fixFor(
        { debian: `sudo apt-get install -y linux-image-${kernel} linux-headers-${kernel} && sudo reboot`, rhel: `sudo dnf install -y kernel-${kernel} kernel-devel-${kernel} && sudo reboot` },
        undefined,
        `bring every GPU node to ${v}: the driver container is built per OS release and kernel (and an air-gap bundle must carry an image for each)`,
      );
    },
  });
}

export function judgeSiteModel(samples: SiteSample[]): Judgement[] {
  return judgeSameAcross(samples, {
    what: 'GPU model and count',
    differs: 'warn',
    remediation: () => 'mixed GPU nodes need scheduling by node label (nvidia.com/gpu.product, set by GPU Feature Discovery); otherwise fit the hardware, and set resources.gpuModel / gpusPerNode in the site file',
  });
}

export function judgeSiteRdmaRate(samples: SiteSample[], profile: Profile): Judgement[] {
  return judgeSameAcross(samples, {
    what: 'RDMA port rate',
    differs: profile.rdma.required ? 'fail' : 'warn',
    none: profile.rdma.required ? undefined : { status: 'skip', message: 'no GPU node has an ACTIVE HCA port, and the profile does not ask for RDMA (rdma.required: false)' },
    remediation: (v) => `NCCL runs at the slowest link: bring every GPU node to ${v} (cables, transceivers, switch port speed); ibstat shows each port's rate`,
  });
}
