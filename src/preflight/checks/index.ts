// Every check the tool knows, by group. Each group module owns its checks.
import type { CheckDef, SiteCheckDef } from '../types.ts';
import { systemChecks } from './system/index.ts';
import { networkChecks } from './network/index.ts';
import { kernelChecks } from './kernel/index.ts';
import { gpuChecks } from './gpu/index.ts';
import { sshChecks, siteChecks } from './fleet/index.ts';

export const ALL_CHECKS: CheckDef[] = [...systemChecks, ...gpuChecks, ...kernelChecks, ...networkChecks, ...sshChecks];
export const SITE_CHECKS: SiteCheckDef[] = [...siteChecks];
