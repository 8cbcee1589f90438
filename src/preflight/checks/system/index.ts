import type { CheckDef } from '../../types.ts';

export const systemChecks: CheckDef[] = [];
