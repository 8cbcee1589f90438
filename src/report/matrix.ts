// The site at a glance: one row per node, one column per checklist item, each
// cell the worst status of that node's results for that item. HTML and
// Markdown draw the same model.
import type { Category, Lang, Status } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { CheckResult, Report, Summary } from '../schema/report.ts';
import { groupByItem } from './checklist-map.ts';
import { summarize } from './build.ts';

export interface MatrixColumn {
  /** Checklist item id, or '-' for results no item claims (one such column per category). */
  id: string;
  category: Category;
  title: string;
}

export interface MatrixCell {
  /** Worst status of the results in the cell; undefined where the item was not checked on the node. */
  status?: Status;
  summary: Summary;
  results: CheckResult[];
}

export interface MatrixRow {
  node: string;
  roles: string[];
  cells: MatrixCell[];
  summary: Summary;
}

export interface Matrix {
  columns: MatrixColumn[];
  /** Consecutive columns of one category, for a spanning heading. */
  categories: { category: Category; span: number }[];
  rows: MatrixRow[];
}

/** Worst first: what a reader must act on comes before what only informs. */
export const SEVERITY: readonly Status[] = ['fail', 'error', 'warn', 'skip', 'pass'];

export function worst(statuses: Iterable<Status>): Status | undefined {
  let best: number | undefined;
  for (const s of statuses) {
    const rank = SEVERITY.indexOf(s);
    if (best === undefined || rank < best) best = rank;
  }
  return best === undefined ? undefined : SEVERITY[best];
}

/** Nodes in site order, then any other node a result names, in order of appearance. */
export function nodeOrder(report: Report): string[] {
  const named = new Set(report.results.map((r) => r.node));
  const names = new Set((report.nodes ?? []).map((n) => n.name).filter((n) => named.has(n)));
  for (const n of named) names.add(n);
  return [...names];
}

export function buildMatrix(report: Report, profile: Profile, lang: Lang): Matrix {
  const items = groupByItem(report.results, profile, lang);
  const columns: MatrixColumn[] = items.map((g) => ({ id: g.id, category: g.category, title: g.title }));
  // Columns stay in checklist order; a category split by the order gets one heading per run.
  const categories: Matrix['categories'] = [];
  for (const c of columns) {
    const last = categories.at(-1);
    if (last && last.category === c.category) last.span++;
    else categories.push({ category: c.category, span: 1 });
  }
  // One pass over the results: each goes into its node's cell of its item's column.
  const cellsOf = new Map(nodeOrder(report).map((node) => [node, items.map((): CheckResult[] => [])]));
  items.forEach((g, col) => {
    for (const r of g.results) cellsOf.get(r.node)![col]!.push(r);
  });
  const roles = new Map((report.nodes ?? []).map((n) => [n.name, n.roles]));
  const rows = [...cellsOf].map(([node, cellResults]) => {
    const cells = cellResults.map((results) => ({ status: worst(results.map((r) => r.status)), summary: summarize(results), results }));
    return { node, roles: roles.get(node) ?? [], cells, summary: summarize(cellResults.flat()) };
  });
  return { columns, categories, rows };
}
