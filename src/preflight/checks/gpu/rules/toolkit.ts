// gpu.toolkit: with gpu.toolkit: preinstalled the host must have the NVIDIA Container
// Toolkit and containerd a runtime that uses it; with the GPU Operator's toolkit, a
// host one is in the way.
import type { JudgeContext, Judgement } from '../../../types.ts';
import type { ToolkitFacts } from '../facts/toolkit.ts';
import { fixFor, same } from './fix.ts';

const CONFIGURE_CMD = 'sudo nvidia-ctk runtime configure --runtime=containerd && sudo systemctl restart containerd';
const CONFIGURE = same(CONFIGURE_CMD);
const INSTALL = {
  debian: `sudo apt-get install -y nvidia-container-toolkit && ${CONFIGURE_CMD}`,
  rhel: `sudo dnf install -y nvidia-container-toolkit && ${CONFIGURE_CMD}`,
};
const REPO_NOTE = "the package comes from NVIDIA's repository (nvidia.github.io/libnvidia-container), or the site's mirror of it";

export function judgeToolkit(f: ToolkitFacts, ctx: JudgeContext): Judgement {
  const policy = ctx.profile.gpu.toolkit;
  const facts = { ...f, policy };
  const present = f.packages.length > 0 || f.binaries.length > 0;
  const nvidiaRuntime = f.runtimes.find((r) => !r.binary || /nvidia-container-runtime/.test(r.binary));
  const what = present ? `nvidia-container-toolkit ${f.packages.find((p) => p.name === 'nvidia-container-toolkit')?.version ?? `(${f.binaries.join(', ')})`}` : '';
  if (policy === 'operator') {
    if (present && nvidiaRuntime) {
      return {
        status: 'warn',
        message: `${what} is installed and containerd has the nvidia runtime (${nvidiaRuntime.file}): install the GPU Operator with --set toolkit.enabled=false, or set gpu.toolkit: preinstalled`,
        remediation: 'helm install gpu-operator ... --set toolkit.enabled=false  # or remove the host toolkit and its runtime entry',
        facts,
      };
    }
    return { status: 'pass', message: 'the GPU Operator installs the container toolkit (gpu.toolkit: operator)', facts };
  }
  if (!present) {
    return { status: 'fail', message: 'nvidia-container-toolkit is not installed (gpu.toolkit: preinstalled)', remediation: fixFor(INSTALL, f.os.distro, REPO_NOTE), facts };
  }
  const unreadable = f.configs.filter((c) => !c.readable);
  if (!nvidiaRuntime) {
    if (unreadable.length) {
      return { status: 'warn', message: `${what} is installed; cannot read ${unreadable.map((c) => c.file).join(', ')} to find the nvidia runtime`, remediation: 'run as root or with ssh.sudo, or: sudo grep -n nvidia /etc/containerd/config.toml /etc/containerd/conf.d/*.toml', facts };
    }
    const where = f.configs.length ? f.configs.map((c) => c.file).join(', ') : 'no /etc/containerd/config.toml';
    return { status: 'fail', message: `${what} is installed but containerd has no nvidia runtime (${where})`, remediation: fixFor(CONFIGURE, f.os.distro), facts };
  }
  const dflt = f.defaultRuntime ? `; default runtime: ${f.defaultRuntime}` : '';
  return { status: 'pass', message: `${what}; containerd runtime ${nvidiaRuntime.table.split('.').pop()} in ${nvidiaRuntime.file}${dflt}`, facts };
}
