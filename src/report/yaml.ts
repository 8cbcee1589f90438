// The YAML report: the same document as JSON, through the yaml package.
import { stringify } from 'yaml';
import type { Report } from '../schema/report.ts';
import { canonicalReport } from './json.ts';

export function renderYaml(report: Report): string {
  // lineWidth 0: no folding, so each message stays on one greppable line.
  return stringify(canonicalReport(report), { lineWidth: 0, aliasDuplicateObjects: false });
}
