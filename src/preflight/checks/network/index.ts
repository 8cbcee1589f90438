import type { CheckDef } from '../../types.ts';

export const networkChecks: CheckDef[] = [];
