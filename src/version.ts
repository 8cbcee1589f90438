// Kept in step with package.json by test/unit/version.test.ts; a literal so the
// single binary needs no package.json at run time.
export const TOOL_NAME = 'astrago-check';
export const TOOL_VERSION = '0.1.0';
