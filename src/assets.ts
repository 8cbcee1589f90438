// Data files shipped inside the binary (checks/default.yaml, ...). The build
// inlines them through the __ASSETS__ define; from source they are read from
// the repository, so tests need no build step.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

declare const __ASSETS__: Record<string, string> | undefined;

/** Repository-relative paths the build embeds. Keep in step with build/build.ts. */
export const EMBEDDED_ASSETS = ['checks/default.yaml'] as const;
export type AssetPath = (typeof EMBEDDED_ASSETS)[number];

export function assetText(path: AssetPath): string {
  if (typeof __ASSETS__ !== 'undefined') {
    const text = __ASSETS__[path];
    if (text === undefined) throw new Error(`asset ${path} was not embedded`);
    return text;
  }
  return readFileSync(join(import.meta.dirname, '..', path), 'utf8');
}
