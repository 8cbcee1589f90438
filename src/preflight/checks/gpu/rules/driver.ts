// gpu.driver and gpu.nouveau: the driver policy of the profile (GPU Operator's driver
// container, or a driver preinstalled on the host at a minimum version) and nouveau
// kept off the GPUs now and at the next boot.
import type { JudgeContext, Judgement } from '../../../types.ts';
import type { DriverFacts, NouveauFacts } from '../facts/driver.ts';
import { OPERATOR_DRIVER_ROOT } from '../facts/node.ts';
import { compareVersions, fixFor } from './fix.ts';

const REMOVE_HOST_DRIVER = {
  debian: "sudo apt-get purge -y 'nvidia-driver-*' 'nvidia-dkms-*' 'libnvidia-*' && sudo apt-get autoremove -y && sudo reboot",
  rhel: "sudo dnf module remove -y --all nvidia-driver; sudo dnf remove -y 'nvidia-driver*' 'kmod-nvidia*' && sudo reboot",
};
const KEEP_HOST_DRIVER = 'or keep it: set gpu.driver: preinstalled in a copy of the profile and install the GPU Operator with --set driver.enabled=false';

function installDriver(min: string) {
  const branch = /^\d+/.exec(min)![0];
  return {
    debian: `sudo apt-get install -y nvidia-driver-${branch}-server && sudo reboot`,
    rhel: `sudo dnf module install -y nvidia-driver:${branch}-dkms && sudo reboot`,
  };
}

export function judgeGpuDriver(f: DriverFacts, ctx: JudgeContext): Judgement {
  const policy = ctx.profile.gpu.driver;
  const facts = { ...f, policy, minVersion: ctx.profile.gpu.minDriverVersion };
  const version = f.module.version ?? f.smi.driverVersion;
  const pkgs = f.packages.map((p) => `${p.name} ${p.version}`).join(', ');
  if (policy === 'operator') {
    if (f.module.loaded && f.operatorDriver) {
      return { status: 'pass', message: `driver ${version ?? '(version unknown)'} is loaded by the GPU Operator's driver container (${OPERATOR_DRIVER_ROOT})`, facts };
    }
    if (f.module.loaded) {
      return {
        status: 'fail',
        message: `a host NVIDIA driver${version ? ` ${version}` : ''} is loaded${pkgs ? ` (${pkgs})` : ''}: the GPU Operator's driver container (gpu.driver: operator) cannot load its own`,
        remediation: fixFor(REMOVE_HOST_DRIVER, f.os.distro, KEEP_HOST_DRIVER),
        facts,
      };
    }
    if (f.packages.length) {
      return {
        status: 'warn',
        message: `host driver packages are installed (${pkgs}) though not loaded: they load at the next boot and conflict with the GPU Operator's driver`,
        remediation: fixFor(REMOVE_HOST_DRIVER, f.os.distro, KEEP_HOST_DRIVER),
        facts,
      };
    }
    return { status: 'pass', message: 'no NVIDIA driver on the host: the GPU Operator installs it (gpu.driver: operator)', facts };
  }
  const min = ctx.profile.gpu.minDriverVersion;
  if (!f.module.loaded) {
    return {
      status: 'fail',
      message: `no NVIDIA driver loaded (gpu.driver: preinstalled)${pkgs ? `; installed packages: ${pkgs} (load it: sudo modprobe nvidia, or reboot)` : ''}`,
      remediation: fixFor(installDriver(min), f.os.distro),
      facts,
    };
  }
  if (f.smi.state === 'failed' || f.smi.state === 'invalid') {
    return {
      status: 'fail',
      message: `driver${version ? ` ${version}` : ''} is loaded but nvidia-smi fails: ${f.smi.error}`,
      remediation: fixFor({ debian: 'sudo reboot', rhel: 'sudo reboot' }, f.os.distro, 'a driver/library version mismatch (packages upgraded under a loaded module) clears with a reboot'),
      facts,
    };
  }
  if (f.module.version && f.smi.driverVersion && f.module.version !== f.smi.driverVersion) {
    return { status: 'fail', message: `the loaded module is ${f.module.version} but nvidia-smi's libraries are ${f.smi.driverVersion}`, remediation: fixFor({ debian: 'sudo reboot', rhel: 'sudo reboot' }, f.os.distro), facts };
  }
  if (!version) return { status: 'warn', message: 'an NVIDIA driver is loaded but its version cannot be read (/proc/driver/nvidia/version)', remediation: 'cat /proc/driver/nvidia/version', facts };
  if (compareVersions(version, min) < 0) {
    return { status: 'fail', message: `driver ${version} is older than ${min} (gpu.minDriverVersion)`, remediation: fixFor(installDriver(min), f.os.distro), facts };
  }
  if (f.smi.state === 'absent') {
    const branch = version.split('.')[0];
    return {
      status: 'warn',
      message: `host driver ${version} (at least ${min}), but nvidia-smi is not on the PATH: the GPU checks that read it cannot run`,
      remediation: fixFor({ debian: `sudo apt-get install -y nvidia-utils-${branch}-server`, rhel: 'sudo dnf install -y nvidia-driver-cuda' }, f.os.distro),
      facts,
    };
  }
  return { status: 'pass', message: `host driver ${version} (at least ${min})`, facts };
}

const BLACKLIST = "printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf";
export const NOUVEAU_FIX = {
  debian: `${BLACKLIST} && sudo update-initramfs -u && sudo reboot`,
  rhel: `${BLACKLIST} && sudo dracut --force && sudo reboot`,
};

export function judgeNouveau(f: NouveauFacts): Judgement {
  const facts = { ...f };
  const by = f.blacklistedBy.length ? `blacklisted (${f.blacklistedBy.join('; ')})` : 'not blacklisted';
  if (f.loaded) {
    return {
      status: 'fail',
      message: `the nouveau driver is loaded (${f.seenIn.join(', ')}), ${by}: the NVIDIA driver cannot take the GPUs${f.blacklistedBy.length ? '; the initramfs still loads it: rebuild it' : ''}`,
      remediation: fixFor(NOUVEAU_FIX, f.os.distro),
      facts,
    };
  }
  if (f.blacklistedBy.length) return { status: 'pass', message: `nouveau is not loaded and is ${by}`, facts };
  if (f.inKernel === false) return { status: 'pass', message: `nouveau is not loaded and kernel ${f.kernel} does not ship it`, facts };
  return {
    status: 'warn',
    message: `nouveau is not loaded now but not blacklisted either (modprobe.d, kernel command line): it can take the GPUs at the next boot`,
    remediation: fixFor(NOUVEAU_FIX, f.os.distro),
    facts,
  };
}
