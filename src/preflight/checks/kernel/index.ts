import type { CheckDef } from '../../types.ts';

export const kernelChecks: CheckDef[] = [];
