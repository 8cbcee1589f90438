import type { CheckDef, SiteCheckDef } from '../../types.ts';
import { sshCheckList } from './ssh-checks.ts';
import { siteCheckList } from './site-checks.ts';
import { gpuSiteCheckList } from './gpu-site-checks.ts';

/** Per-node SSH checks (reachable, auth, sudo, host key). */
export const sshChecks: CheckDef[] = sshCheckList;
/** Cross-node checks (hostnames, clock skew, port matrix; driver, OS, GPU model and RDMA rate across GPU nodes). */
export const siteChecks: SiteCheckDef[] = [...siteCheckList, ...gpuSiteCheckList];
