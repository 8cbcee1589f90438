// gpu.kernel-headers, gpu.secure-boot, gpu.iommu: what the driver needs from the
// node's kernel, firmware and packages.
import type { JudgeContext, Judgement } from '../../../types.ts';
import { repoHost, type IommuFacts, type KernelBuildFacts, type SecureBootFacts } from '../facts/platform.ts';
import { fixFor, same } from './fix.ts';

const HEADERS = {
  debian: 'sudo apt-get install -y linux-headers-$(uname -r)',
  rhel: 'sudo dnf install -y kernel-devel-$(uname -r) kernel-headers-$(uname -r)',
};
const REPO_NOTE =
  "an air-gapped site: serve the distribution's packages from a local mirror, configure it on the node and give the driver container the same repository (GPU Operator: driver.repoConfig.configMapName)";

export function judgeKernelHeaders(f: KernelBuildFacts, ctx: JudgeContext): Judgement {
  const facts = { ...f };
  if (ctx.profile.gpu.driver !== 'operator') {
    return { status: 'skip', message: "not checked: the host's own driver is used (gpu.driver: preinstalled), no driver container builds here", facts };
  }
  if (!f.kernel) return { status: 'error', message: 'cannot read the running kernel release (/proc/sys/kernel/osrelease)', facts };
  if (f.headers) return { status: 'pass', message: `headers for the running kernel ${f.kernel} are installed (/lib/modules/${f.kernel}/build)`, facts };
  const local = f.repos.filter((r) => r.local);
  if (local.length) {
    return {
      status: 'pass',
      message: `no headers for kernel ${f.kernel} installed; the driver container can fetch them from the local repository ${[...new Set(local.map((r) => r.url))].join(', ')} (give it the same repository: driver.repoConfig)`,
      facts,
    };
  }
  if (f.repos.length) {
    return {
      status: 'warn',
      message: `no headers for kernel ${f.kernel} installed, and the only package repositories are on the internet (${[...new Set(f.repos.map((r) => repoHost(r.url)))].join(', ')}): the driver container cannot build the driver at an air-gapped site`,
      remediation: fixFor(HEADERS, f.os.distro, REPO_NOTE),
      facts,
    };
  }
  return {
    status: 'fail',
    message: `no headers for kernel ${f.kernel} (/lib/modules/${f.kernel}/build) and no package repository configured: the GPU Operator's driver container cannot build the driver`,
    remediation: fixFor(HEADERS, f.os.distro, REPO_NOTE),
    facts,
  };
}

const MOK_ENROLL = {
  debian: 'sudo update-secureboot-policy --enroll-key && sudo reboot  # confirm the key in MokManager at boot',
  rhel: 'sudo mokutil --import /var/lib/dkms/mok.pub && sudo reboot  # confirm the key in MokManager at boot',
};
const DISABLE_SB = same('sudo mokutil --disable-validation && sudo reboot  # or turn Secure Boot off in the firmware setup');

export function judgeSecureBoot(f: SecureBootFacts, ctx: JudgeContext): Judgement {
  const facts = { ...f, policy: ctx.profile.gpu.driver };
  if (!f.uefi) return { status: 'pass', message: 'booted without UEFI: no Secure Boot', facts };
  if (f.state === 'unknown') {
    return {
      status: 'skip',
      message: 'not checked: the SecureBoot EFI variable is not readable and mokutil is not installed',
      remediation: fixFor({ debian: 'sudo apt-get install -y mokutil && mokutil --sb-state', rhel: 'sudo dnf install -y mokutil && mokutil --sb-state' }, f.os.distro),
      facts,
    };
  }
  if (f.state === 'disabled') return { status: 'pass', message: `Secure Boot is off (${f.source})`, facts };
  if (f.nvidiaLoaded) return { status: 'pass', message: `Secure Boot is on (${f.source}) and the NVIDIA module is loaded: it is signed with a key the firmware trusts`, facts };
  if (ctx.profile.gpu.driver === 'operator') {
    return {
      status: 'fail',
      message: `Secure Boot is on (${f.source}): the module the GPU Operator's driver container builds is unsigned and will not load`,
      remediation: fixFor(DISABLE_SB, f.os.distro, 'or use signed precompiled driver images (GPU Operator: driver.usePrecompiled=true, Ubuntu)'),
      facts,
    };
  }
  return {
    status: 'warn',
    message: `Secure Boot is on (${f.source}) and no NVIDIA module is loaded: a DKMS-built driver loads only when signed with an enrolled machine owner key`,
    remediation: fixFor(MOK_ENROLL, f.os.distro),
    facts,
  };
}

export function judgeIommu(f: IommuFacts, ctx: JudgeContext): Judgement {
  const facts = { ...f };
  if (!ctx.profile.gpu.passthrough) return { status: 'skip', message: 'not checked: the profile does not pass GPUs through to VMs (gpu.passthrough: false)', facts };
  const param = f.cpuVendor === 'AuthenticAMD' ? 'amd_iommu=on iommu=pt' : 'intel_iommu=on iommu=pt';
  const fix = fixFor(
    {
      debian: `sudo sed -i 's/^GRUB_CMDLINE_LINUX="/&${param} /' /etc/default/grub && sudo update-grub && sudo reboot`,
      rhel: `sudo grubby --update-kernel=ALL --args="${param}" && sudo reboot`,
    },
    f.os.distro,
    'and enable VT-d / AMD-Vi in the firmware setup',
  );
  if (f.groups === 0) {
    return { status: 'fail', message: `the IOMMU is off (no /sys/kernel/iommu_groups${f.cmdline.length ? `; command line: ${f.cmdline.join(' ')}` : ''}): GPUs cannot be passed through (gpu.passthrough: true)`, remediation: fix, facts };
  }
  const vfio = f.vfioPci ? '' : '; vfio_pci is not loaded (sudo modprobe vfio-pci)';
  return { status: 'pass', message: `IOMMU on: ${f.groups} IOMMU groups${f.units.length ? ` (${f.units.join(', ')})` : ''}${vfio}`, facts };
}
