// Kernel and LSM checks: version, modules, sysctls, swap, cgroup, SELinux, AppArmor.
import type { CheckDef } from '../../types.ts';
import { kernelVersion } from './version.ts';
import { kernelModules } from './modules.ts';
import { kernelSysctl } from './sysctl.ts';
import { kernelSwap } from './swap.ts';
import { kernelCgroup } from './cgroup.ts';
import { securityApparmor, securitySelinux } from './security.ts';

export const kernelChecks: CheckDef[] = [kernelVersion, kernelModules, kernelSysctl, kernelSwap, kernelCgroup, securitySelinux, securityApparmor];
