// Renders a report in the requested format. One module per format.
import type { Lang } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { Report } from '../schema/report.ts';

export const REPORT_FORMATS = ['tty', 'json', 'yaml', 'junit', 'markdown'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface RenderOptions {
  lang: Lang;
  /** ANSI colours (tty only); see shouldColor. */
  color: boolean;
  profile: Profile;
}

export function renderReport(report: Report, format: ReportFormat, opts: RenderOptions): string {
  // Stub until the format modules land (issue #2, H2).
  void opts;
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  return JSON.stringify(report, null, 2) + '\n';
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}
