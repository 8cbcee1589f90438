// Checks of the node itself: OS, hostname, CPU/memory, disks, privileges (GPUs: ../gpu/).
import type { CheckDef } from '../../types.ts';
import { osReleaseCheck } from './os-release.ts';
import { hostnameCheck } from './hostname.ts';
import { cpuCheck, memoryCheck } from './resources.ts';
import { diskFreeCheck, diskFilesystemCheck, diskInodesCheck } from './disk-space.ts';
import { fsyncCheck } from './fsync.ts';
import { privilegesCheck } from './privileges.ts';

export const systemChecks: CheckDef[] = [
  privilegesCheck,
  osReleaseCheck,
  hostnameCheck,
  cpuCheck,
  memoryCheck,
  diskFreeCheck,
  diskFilesystemCheck,
  diskInodesCheck,
  fsyncCheck,
];
