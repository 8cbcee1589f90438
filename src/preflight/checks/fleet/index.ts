import type { CheckDef, SiteCheckDef } from '../../types.ts';

/** Per-node SSH checks (reachable, auth, sudo, host key). */
export const sshChecks: CheckDef[] = [];
/** Cross-node checks. */
export const siteChecks: SiteCheckDef[] = [];
