// Renders a report in the requested format. One module per format.
import type { Lang } from '../schema/common.ts';
import type { Profile } from '../schema/profile.ts';
import type { Report } from '../schema/report.ts';
import { renderHtml } from './html/page.ts';
import { renderJson } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderMarkdown } from './markdown.ts';
import { renderTty } from './tty.ts';
import { renderYaml } from './yaml.ts';

export const REPORT_FORMATS = ['tty', 'json', 'yaml', 'junit', 'markdown', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface RenderOptions {
  lang: Lang;
  /** ANSI colours (tty only); see shouldColor. */
  color: boolean;
  profile: Profile;
  /** --strict: warnings fail the run, and the verdict says so. */
  strict?: boolean;
}

export function renderReport(report: Report, format: ReportFormat, opts: RenderOptions): string {
  switch (format) {
    case 'tty':
      return renderTty(report, opts);
    case 'json':
      return renderJson(report);
    case 'yaml':
      return renderYaml(report);
    case 'junit':
      return renderJunit(report, opts);
    case 'markdown':
      return renderMarkdown(report, opts);
    case 'html':
      return renderHtml(report, opts);
  }
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}
