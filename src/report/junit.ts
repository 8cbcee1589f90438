// JUnit XML for CI (Jenkins, GitLab): a testsuite per node, a testcase per
// result. fail -> <failure>, error -> <error>, skip -> <skipped>; a warning
// passes, with its message in <system-out> (with --strict it is a <failure>).
import type { Report } from '../schema/report.ts';
import { groupBy, itemTitle } from './checklist-map.ts';
import { labels } from './i18n.ts';
import type { RenderOptions } from './render.ts';

/** Characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE/U+FFFF). */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlEscape(s: string): string {
  return s
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * A node's wall time: its checks run in parallel, so the sum of their durations can exceed
 * the whole run. The node's measured span when the report has it, else the sum capped at the run.
 */
function suiteMs(results: Report['results'], measured: number | undefined, runMs: number): number {
  return Math.min(measured ?? results.reduce((n, r) => n + r.durationMs, 0), runMs);
}

export function renderJunit(report: Report, opts: RenderOptions): string {
  const L = labels(opts.lang);
  // --strict fails the run on warnings: CI shows them as failures too.
  const strict = opts.strict === true;
  const count = (rs: Report['results'], s: string) => rs.filter((r) => r.status === s || (strict && s === 'fail' && r.status === 'warn')).length;
  const all = report.results;
  const runMs = report.durationMs ?? all.reduce((n, r) => n + r.durationMs, 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites${attrs({
      name: `${L.reportTitle}: ${report.site}`,
      tests: all.length,
      failures: count(all, 'fail'),
      errors: count(all, 'error'),
      skipped: count(all, 'skip'),
      time: seconds(runMs),
      timestamp: report.createdAt,
    })}>`,
  );
  const nodeMs = new Map((report.nodes ?? []).map((n) => [n.name, n.durationMs]));
  for (const [node, results] of groupBy(all, (r) => r.node)) {
    out.push(
      `  <testsuite${attrs({
        name: node,
        tests: results.length,
        failures: count(results, 'fail'),
        errors: count(results, 'error'),
        skipped: count(results, 'skip'),
        time: seconds(suiteMs(results, nodeMs.get(node), runMs)),
        timestamp: report.createdAt,
        hostname: report.host,
      })}>`,
    );
    out.push('    <properties>');
    for (const [k, v] of [
      ['site', report.site],
      ['host', report.host],
      ['tool', `${report.tool.name} ${report.tool.version}`],
      ['profile', report.profile],
    ] as const) {
      if (v !== undefined) out.push(`      <property${attrs({ name: k, value: v })}/>`);
    }
    out.push('    </properties>');
    for (const r of results) {
      // classname category.ITEM gives CI UIs a package per category, a class per checklist item.
      out.push(`    <testcase${attrs({ name: r.id, classname: r.checklist === '-' ? r.category : `${r.category}.${r.checklist}`, time: seconds(r.durationMs) })}>`);
      const detail = r.remediation ? `${r.message}\n${L.remediation}: ${r.remediation}` : r.message;
      if (r.status === 'fail' || (strict && r.status === 'warn')) out.push(`      <failure${attrs({ message: r.message, type: r.status })}>${xmlEscape(detail)}</failure>`);
      else if (r.status === 'error') out.push(`      <error${attrs({ message: r.message, type: 'error' })}>${xmlEscape(detail)}</error>`);
      else if (r.status === 'skip') out.push(`      <skipped${attrs({ message: r.message })}/>`);
      const sysout = [
        `${r.checklist} ${itemTitle(opts.profile, r.checklist, opts.lang)}`,
        `${L.status}: ${L.status_[r.status]}`,
        r.status === 'pass' || r.status === 'warn' ? `${L.message}: ${r.message}` : undefined,
        r.status === 'warn' && r.remediation ? `${L.remediation}: ${r.remediation}` : undefined,
        `facts: ${JSON.stringify(r.facts)}`,
      ].filter((x) => x !== undefined);
      out.push(`      <system-out>${xmlEscape(sysout.join('\n'))}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
