import type { CheckDef, SiteCheckDef } from '../../types.ts';
import { sshCheckList } from './ssh-checks.ts';
import { siteCheckList } from './site-checks.ts';

/** Per-node SSH checks (reachable, auth, sudo, host key). */
export const sshChecks: CheckDef[] = sshCheckList;
/** Cross-node checks (hostnames, clock skew, port matrix). */
export const siteChecks: SiteCheckDef[] = siteCheckList;
