// Loads the check profile: the built-in checks/default.yaml or a user's copy.
import { assetText } from '../assets.ts';
import { UsageError } from '../errors.ts';
import { loadYamlFile, parseYaml } from '../schema/load.ts';
import { profileSchema, type ChecklistItem, type Profile } from '../schema/profile.ts';
import type { Category } from '../schema/common.ts';

export const DEFAULT_PROFILE_NAME = 'checks/default.yaml (built in)';

export function loadProfile(file?: string): Profile {
  if (file) return loadYamlFile(file, profileSchema);
  return parseYaml(assetText('checks/default.yaml'), 'checks/default.yaml', profileSchema);
}

/** True when `checkId` is named by `pattern`: exactly, as a prefix ending in '.', or with a [subject] suffix. */
export function checkIdMatches(pattern: string, checkId: string): boolean {
  if (pattern === checkId) return true;
  const base = checkId.replace(/\[.*\]$/, '');
  if (pattern === base) return true;
  if (pattern.endsWith('.') || pattern.endsWith('*')) return base.startsWith(pattern.replace(/\*$/, ''));
  return base.startsWith(pattern + '.');
}

/** --only/--skip patterns must name a known check (a typo would silently check nothing), live or from kept facts. */
export function validatePatterns(flag: string, patterns: string[], ids: string[]): void {
  for (const p of patterns) {
    const base = p.replace(/\[.*\]$/, '');
    if (!ids.some((id) => checkIdMatches(p, id) || checkIdMatches(base, id))) {
      throw new UsageError(`preflight: --${flag} '${p}' names no check (checks: ${ids.join(', ')})`);
    }
  }
}

/** The checklist item a check verifies, or a synthetic one from the check's own category. */
export function checklistItemFor(profile: Profile, checkId: string): ChecklistItem | undefined {
  return profile.checklist.find((item) => item.checks.some((p) => checkIdMatches(p, checkId)));
}

export function checklistRef(profile: Profile, checkId: string, fallback: Category): { checklist: string; category: Category } {
  const item = checklistItemFor(profile, checkId);
  return item ? { checklist: item.id, category: item.category } : { checklist: '-', category: fallback };
}
