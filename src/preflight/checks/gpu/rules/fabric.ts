// gpu.fabricmanager: an NVSwitch system (HGX) needs NVIDIA Fabric Manager running, at
// exactly the driver's version, or its GPUs never join the NVLink fabric (CUDA init fails).
import type { JudgeContext, Judgement } from '../../../types.ts';
import type { FabricFacts } from '../facts/fabric.ts';
import { aptPin, fixFor, same } from './fix.ts';

/** "550.90.07-1" / "550.90.07-0ubuntu1" -> "550.90.07" */
export const upstreamVersion = (v: string) => v.replace(/^\d+:/, '').split('-')[0]!;

export function judgeFabricManager(f: FabricFacts, ctx: JudgeContext): Judgement {
  const policy = ctx.profile.gpu.driver;
  const facts = { ...f, policy };
  const n = f.nvswitches.length;
  if (n === 0) return { status: 'pass', message: 'no NVSwitch on the PCI bus: Fabric Manager is not needed', facts };
  const switches = `${n} NVSwitch${n === 1 ? '' : 'es'} (${[...new Set(f.nvswitches.map((s) => s.id))].join(', ')})`;
  const driver = f.module.version;
  const branch = driver?.split('.')[0] ?? '<driver branch>';
  const pin = driver ?? '<driver version>';
  const install = {
    debian: `sudo apt-get install -y ${aptPin(`nvidia-fabricmanager-${branch}`, pin)} && sudo systemctl enable --now nvidia-fabricmanager`,
    rhel: `sudo dnf install -y nvidia-fabric-manager-${pin} && sudo systemctl enable --now nvidia-fabricmanager`,
  };
  const hostFm = f.packages.length > 0 || f.unit.load === 'loaded';
  if (policy === 'operator') {
    if (hostFm && (f.unit.enabled === 'enabled' || f.unit.active === 'active')) {
      return {
        status: 'warn',
        message: `${switches}: the GPU Operator's driver container runs Fabric Manager itself, and the host's nvidia-fabricmanager (${f.unit.enabled ?? '?'}, ${f.unit.active ?? '?'}) would compete with it`,
        remediation: fixFor(same('sudo systemctl disable --now nvidia-fabricmanager'), f.os.distro),
        facts,
      };
    }
    return { status: 'pass', message: `${switches}: the GPU Operator's driver container runs Fabric Manager (gpu.driver: operator)`, facts };
  }
  const problems: string[] = [];
  if (!f.packages.length) problems.push('nvidia-fabricmanager is not installed');
  else {
    const fm = upstreamVersion(f.packages[0]!.version);
    if (driver && fm !== driver) problems.push(`its version ${fm} differs from the driver's ${driver} (they must be equal)`);
  }
  if (f.packages.length && f.unit.enabled !== 'enabled') problems.push(`the unit is ${f.unit.enabled ?? 'unknown'} (not enabled at boot)`);
  if (f.packages.length && f.unit.active !== 'active') problems.push(`the unit is ${f.unit.active ?? 'unknown'} (not running)`);
  const unjoined = (f.gpuFabric ?? []).filter((g) => g.state !== 'Completed' || (g.status !== undefined && g.status !== 'Success'));
  if (unjoined.length) problems.push(`${unjoined.length} GPU(s) not in the NVLink fabric (${unjoined.map((g) => `${g.busId}: ${g.state ?? '?'}${g.status ? `/${g.status}` : ''}`).join(', ')})`);
  if (problems.length) {
    return {
      status: 'fail',
      message: `${switches}: ${problems.join('; ')}`,
      remediation: fixFor(install, f.os.distro, 'journalctl -u nvidia-fabricmanager  # shows why it stopped'),
      facts,
    };
  }
  return { status: 'pass', message: `${switches}: nvidia-fabricmanager ${upstreamVersion(f.packages[0]!.version)} enabled and running, equal to the driver`, facts };
}
