// Maps results onto the customer checklist: item titles in the report's
// language and the grouping every human-readable format shares.
import type { Category, Lang } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult } from '../schema/report.ts';
import { CATEGORY_ORDER, labels } from './i18n.ts';

export interface ItemGroup {
  /** Checklist item id, or '-' for results no item claims. */
  id: string;
  category: Category;
  title: string;
  results: CheckResult[];
}

export function itemTitle(profile: Profile, id: string, lang: Lang): string {
  const item = profile.checklist.find((c) => c.id === id);
  return item ? item.title[lang] : labels(lang).unmapped;
}

/** Insertion-ordered grouping. */
export function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}

/** Results grouped by checklist item, items in profile order (unmapped last). */
export function groupByItem(results: readonly CheckResult[], profile: Profile, lang: Lang): ItemGroup[] {
  const rank = new Map(profile.checklist.map((c, i) => [c.id, i]));
  const groups = [...groupBy(results, (r) => `${r.checklist}\u0000${r.category}`).values()].map((rs) => ({
    id: rs[0]!.checklist,
    category: rs[0]!.category,
    title: itemTitle(profile, rs[0]!.checklist, lang),
    results: rs,
  }));
  const r = (g: ItemGroup) => rank.get(g.id) ?? Number.MAX_SAFE_INTEGER;
  return groups.sort((a, b) => r(a) - r(b) || a.id.localeCompare(b.id) || CATEGORY_ORDER.indexOf(a.category) - CATEGORY_ORDER.indexOf(b.category));
}

/** Item groups per category, categories in the fixed checklist order. */
export function groupByCategory(results: readonly CheckResult[], profile: Profile, lang: Lang): { category: Category; items: ItemGroup[] }[] {
  const items = groupByItem(results, profile, lang);
  return CATEGORY_ORDER.map((category) => ({ category, items: items.filter((g) => g.category === category) })).filter((c) => c.items.length > 0);
}
