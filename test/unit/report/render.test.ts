import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { renderReport, shouldColor } from '../../../src/report/render.ts';
import { reportSchema } from '../../../src/schema/report.ts';
import { displayWidth } from '../../../src/report/tty.ts';
import { xmlEscape } from '../../../src/report/junit.ts';
import { fleetReport, profile, sampleReport } from '../../support/report-fixture.ts';

const en = { lang: 'en' as const, color: false, profile };
const ko = { lang: 'ko' as const, color: false, profile };

/** Parses XML with a real parser (Python's expat) and returns the element tree as JSON. */
function parseXml(xml: string): XmlEl {
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const script = `
import sys, json, xml.etree.ElementTree as ET
def conv(e): return {"tag": e.tag, "attrs": e.attrib, "text": e.text or "", "children": [conv(c) for c in e]}
print(json.dumps(conv(ET.fromstring(sys.stdin.buffer.read()))))`;
  return JSON.parse(execFileSync(py, ['-c', script], { input: xml, encoding: 'utf8' }));
}
interface XmlEl {
  tag: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlEl[];
}

test('json is the report, pretty printed, keys in contract order, schema-valid', () => {
  const report = sampleReport();
  const text = renderReport(report, 'json', en);
  assert.match(text, /^\{\n {2}"apiVersion": "astrago.io\/v1",\n {2}"kind": "PreflightReport",/);
  const parsed = JSON.parse(text);
  assert.deepEqual(reportSchema.parse(parsed), report);
  assert.deepEqual(Object.keys(parsed.results[0]), ['id', 'node', 'checklist', 'category', 'status', 'message', 'facts', 'remediation', 'durationMs']);
});

test('yaml parses back to the same document as json', () => {
  const report = sampleReport();
  assert.deepEqual(parseYaml(renderReport(report, 'yaml', en)), JSON.parse(renderReport(report, 'json', en)));
});

test('junit is well-formed XML: a suite per node, failure/error/skipped per status, escaped text', () => {
  const xml = renderReport(sampleReport(), 'junit', en);
  const root = parseXml(xml);
  assert.equal(root.tag, 'testsuites');
  assert.deepEqual([root.attrs.tests, root.attrs.failures, root.attrs.errors, root.attrs.skipped], ['7', '1', '1', '1']);
  assert.deepEqual(root.children.map((s) => s.attrs.name), ['master-1', 'worker-1']);
  const cases = root.children.flatMap((s) => s.children.filter((c) => c.tag === 'testcase'));
  const byName = new Map(cases.map((c) => [c.attrs.name, c]));
  const kinds = (name: string) => byName.get(name)!.children.map((c) => c.tag).filter((t) => t !== 'system-out');
  assert.deepEqual(kinds('kernel.modules'), ['failure']);
  assert.deepEqual(kinds('registry.tls'), ['error']);
  assert.deepEqual(kinds('ssh.sudo'), ['skipped']);
  assert.deepEqual(kinds('os.release'), []);
  assert.deepEqual(kinds('disk.free[/var/lib/etcd]'), []); // a warning passes
  assert.equal(byName.get('kernel.modules')!.attrs.classname, 'os.OS-03');
  const err = byName.get('registry.tls')!.children[0]!;
  // The special characters survive the round trip through a real XML parser.
  assert.equal(err.attrs.message, 'timed out after 5000 ms <&"\'> | pipe');
  assert.match(err.text, /Check that "harbor" answers on <443> & retry/);
  assert.doesNotMatch(xml, /<&"/);
});

test('control characters from node output cannot break junit or drive the terminal', () => {
  const report = sampleReport();
  report.results[0]!.message = 'bad \u0000\u001b[31mansi\u001b[0m \uD800 end';
  const root = parseXml(renderReport(report, 'junit', en));
  assert.ok(root.children.length > 0);
  const tty = renderReport(report, 'tty', en);
  assert.doesNotMatch(tty, /[\u0000\u001b]/);
  assert.match(tty, /bad \[31mansi\[0m/);
  assert.equal(xmlEscape('a<b>&"\'c'), 'a&lt;b&gt;&amp;&quot;&apos;c');
});

test('markdown groups by checklist category in checklist order, with item titles and remediation', () => {
  const md = renderReport(sampleReport(), 'markdown', en);
  const sections = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(sections, ['Summary', 'Nodes × checklist items', 'Findings', 'Network', 'Accounts', 'Registry', 'Resources', 'Storage', 'Operating system']);
  const osSection = md.slice(md.indexOf('## Operating system'));
  assert.match(osSection, /### OS-01 Supported operating system/);
  assert.match(osSection, /### OS-03 Kernel modules/);
  assert.match(osSection, /\| worker-1 \| `kernel.modules` \| ❌ fail \| br_netfilter is not loaded \|/);
  assert.match(osSection, /- \*\*worker-1\*\* `kernel.modules`\n\n {2}```\n {2}modprobe br_netfilter\n {2}echo br_netfilter > \/etc\/modules-load.d\/k8s.conf\n {2}```/);
  // Header table: site, host, time, tool version.
  assert.match(md, /\| Site \| acme-lab \|/);
  assert.match(md, /\| Host \| jump-1 \|/);
  assert.match(md, /\| Time \| 2026-11-23T07:00:00.000Z \|/);
  assert.match(md, /\| Tool \| astrago-check \d+\.\d+\.\d+ \|/);
  // A pipe in a message does not break the table.
  assert.match(md, /&lt;&amp;"'&gt; \\\| pipe \|/);
  // Passing items show no remediation section.
  assert.doesNotMatch(md.slice(md.indexOf('### OS-01'), md.indexOf('### OS-03')), /Remediation/);
});

test('markdown and tty use Korean labels and checklist titles with lang ko', () => {
  const md = renderReport(sampleReport(), 'markdown', ko);
  assert.match(md, /^# Astrago 사전 점검 보고서/);
  assert.match(md, /^## 운영체제$/m);
  assert.match(md, /^## 요약$/m);
  assert.match(md, /### OS-01 지원되는 운영체제/);
  assert.match(md, /❌ 실패/);
  assert.match(md, /\*\*조치 방법\*\*/);
  const tty = renderReport(sampleReport(), 'tty', ko);
  assert.match(tty, /노드: master-1/);
  assert.match(tty, /OS-03 커널 모듈/);
  assert.match(tty, /✘ 실패/);
  assert.match(tty, /요약: 3 통과, 1 경고, 1 실패, 1 건너뜀, 1 오류 \(7 전체\)/);
  // Check messages stay English.
  assert.match(tty, /br_netfilter is not loaded/);
  const junit = renderReport(sampleReport(), 'junit', ko);
  assert.match(junit, /OS-03 커널 모듈/);
});

test('tty groups per node then checklist item, shows remediation only for non-pass, and the summary', () => {
  const tty = renderReport(sampleReport(), 'tty', en);
  const lines = tty.split('\n');
  const master = lines.indexOf('Node: master-1 (control-plane)');
  const worker = lines.indexOf('Node: worker-1 (worker)');
  assert.ok(master > 0 && worker > master);
  // (the grouped findings come first: the per-node listing starts at the first node)
  assert.ok(lines.findIndex((l, i) => i > master && l.includes('kernel.modules')) > worker);
  assert.ok(lines.findIndex((l, i) => i > master && l.includes('os.release')) < worker);
  const fail = lines.findIndex((l) => /✘ fail +kernel.modules +br_netfilter is not loaded/.test(l));
  assert.ok(fail > 0);
  assert.equal(lines[fail + 1]!.trim(), '→ modprobe br_netfilter');
  assert.equal(lines[fail + 2]!.trim(), 'echo br_netfilter > /etc/modules-load.d/k8s.conf');
  assert.match(tty, /^Summary: 3 pass, 1 warn, 1 fail, 1 skip, 1 error \(7 total\)$/m);
  assert.match(tty, /Not ready: some checks failed\./);
  assert.doesNotMatch(tty, /\x1b\[/, 'no colour when color is false');
});

test('tty colours only when asked; shouldColor needs a terminal and honours NO_COLOR', () => {
  assert.match(renderReport(sampleReport(), 'tty', { ...en, color: true }), /\x1b\[31m✘ fail/);
  assert.equal(shouldColor({ isTTY: true }, {}), true);
  assert.equal(shouldColor({ isTTY: false }, {}), false);
  assert.equal(shouldColor({}, {}), false);
  assert.equal(shouldColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(shouldColor({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(shouldColor({ isTTY: false }, { FORCE_COLOR: '1' }), true);
});

test('Hangul counts two terminal columns', () => {
  assert.equal(displayWidth('요약'), 4);
  assert.equal(displayWidth('ok'), 2);
});

/** HTML of a Markdown text as CommonMark's reference renderer (cmark) produces it. */
function commonmark(md: string): string {
  return execFileSync('cmark', ['--to', 'html'], { input: md, encoding: 'utf8' });
}

test('markdown remediations are code blocks: a heredoc renders line by line, nothing double-escaped', () => {
  const report = sampleReport();
  const heredoc = "cat > /etc/sysctl.d/99-kubernetes.conf <<'EOF'\nnet.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nEOF\nsysctl --system";
  report.results.push({ ...report.results[0]!, id: 'kernel.sysctl', status: 'fail', message: 'ip_forward is 0', remediation: heredoc });
  report.results.push({ ...report.results[0]!, id: 'kernel.swap', status: 'fail', message: 'swap on', remediation: 'run ```swapoff -a``` now' });
  const html = commonmark(renderReport(report, 'markdown', en));
  // The text a browser shows inside <pre><code> is the command as written.
  const blocks = [...html.matchAll(/<pre><code>([\s\S]*?)<\/code><\/pre>/g)].map((m) => m[1]!.replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
  assert.ok(blocks.includes(heredoc + '\n'), `heredoc block kept as written: ${JSON.stringify(blocks)}`);
  assert.ok(blocks.includes('run ```swapoff -a``` now\n'), 'backticks inside do not end the block');
  assert.ok(blocks.includes('modprobe br_netfilter\necho br_netfilter > /etc/modules-load.d/k8s.conf\n'));
  assert.doesNotMatch(html, /&amp;gt;|&amp;lt;/, 'no double escaping');
  // Each block belongs to its node's list item.
  assert.match(html, /<li>\s*<p><strong>master-1<\/strong> <code>kernel.sysctl<\/code><\/p>\s*<pre><code>cat &gt;/);
});

test('--strict: warnings make the verdict "not ready" in tty and markdown, and JUnit failures', () => {
  const report = sampleReport();
  report.results = report.results.filter((r) => r.status !== 'fail' && r.status !== 'error');
  report.summary = { ...report.summary, fail: 0, error: 0 };
  assert.match(renderReport(report, 'tty', en), /Ready with warnings\./);
  const strict = { ...en, strict: true };
  const tty = renderReport(report, 'tty', strict);
  assert.doesNotMatch(tty, /Ready with warnings/);
  assert.match(tty, /Not ready: warnings fail with --strict\./);
  assert.match(renderReport(report, 'markdown', strict), /\*\*Not ready: warnings fail with --strict\.\*\*/);
  assert.match(renderReport(report, 'tty', { ...ko, strict: true }), /준비 안 됨/);
  const root = parseXml(renderReport(report, 'junit', strict));
  assert.equal(root.attrs.failures, '1');
  const warnCase = root.children.flatMap((s) => s.children).find((c) => c.attrs.name === 'disk.free[/var/lib/etcd]')!;
  assert.deepEqual(warnCase.children.map((c) => c.tag), ['failure', 'system-out']);
  assert.equal(parseXml(renderReport(report, 'junit', en)).attrs.failures, '0');
});

test("junit: no node's testsuite takes longer than the whole run", () => {
  const report = sampleReport();
  // Checks run in parallel: their durations add up to more than the run took.
  for (const r of report.results) r.durationMs = 900;
  report.durationMs = 1000;
  report.nodes![0]!.durationMs = 640;
  const root = parseXml(renderReport(report, 'junit', en));
  assert.equal(root.attrs.time, '1.000');
  const time = (name: string) => Number(root.children.find((s) => s.attrs.name === name)!.attrs.time);
  assert.equal(time('master-1'), 0.64, 'the measured span of the node');
  assert.ok(time('worker-1') <= 1, `worker-1 ${time('worker-1')} s`);
});

test('a large site in tty and markdown: one line per check and cause, "on N nodes", names abbreviated, one remediation; JSON keeps every result', () => {
  const report = fleetReport(37);
  const tty = renderReport(report, 'tty', en);
  const sysctl = tty.split('\n').filter((l) => l.includes('kernel.sysctl'));
  assert.equal(sysctl.length, 1, sysctl.join('\n'));
  assert.match(sysctl[0]!, /✘ fail +kernel\.sysctl on 37 nodes \(node-01, .*, node-10 \+27\): net\.ipv4\.ip_forward = 0 \(expected 1\)$/);
  assert.equal(tty.split('\n').filter((l) => l.includes('→ sysctl -w net.ipv4.ip_forward=1')).length, 1, 'the remediation once');
  assert.doesNotMatch(tty, /^Node: /m, 'no per-node listing past ten nodes');
  assert.match(tty, /Results of each of the 37 nodes: --format json/);
  assert.match(tty, /Nodes +37: node-01 \(control-plane\); /);
  const md = renderReport(report, 'markdown', en);
  const mdSysctl = md.split('\n').filter((l) => l.includes('kernel.sysctl'));
  assert.equal(mdSysctl.length, 1);
  assert.match(mdSysctl[0]!, /^- ❌ \*\*fail\*\* `kernel\.sysctl` on 37 nodes \(node-01, .* \+27\): net\.ipv4\.ip_forward = 0 \(expected 1\)$/);
  assert.equal(md.split('\n').filter((l) => l.trim() === 'sysctl -w net.ipv4.ip_forward=1').length, 1);
  assert.doesNotMatch(md, /^## Network$/m, 'no per-category detail past ten nodes');
  const json = JSON.parse(renderReport(report, 'json', en)) as { results: { id: string }[] };
  assert.equal(json.results.filter((r) => r.id === 'kernel.sysctl').length, 37);
  // Few nodes: the findings come first, the per-node listing still follows.
  const small = renderReport(fleetReport(3), 'tty', en);
  assert.match(small, /kernel\.sysctl on 3 nodes \(node-01, .*, node-03\)/);
  assert.match(small, /^Node: node-01 \(control-plane\)$/m);
});

test('a node that could not be checked is one line (tty) / one row (markdown) with its reason, not a line per check', () => {
  const report = sampleReport();
  const why = 'not logged in: the host key was refused (unknown key; see ssh.hostkey)';
  const ids = ['os.release', 'kernel.modules', 'kernel.sysctl', 'disk.free[/]', 'resources.cpu'];
  report.nodes!.push({ name: 'w3', roles: ['worker'], reachable: false });
  for (const id of ids) report.results.push({ id, node: 'w3', checklist: 'OS-01', category: 'os', status: 'skip', message: `not checked: ${why}`, facts: { notChecked: why }, durationMs: 0 });
  report.results.push({ id: 'ssh.hostkey', node: 'w3', checklist: 'SEC-03', category: 'security', status: 'fail', message: 'host key of w3 is not in /k: presented ssh-ed25519 SHA256:abc', facts: {}, durationMs: 0 });
  const tty = renderReport(report, 'tty', en);
  const w3 = tty.slice(tty.indexOf('Node: w3'));
  assert.equal(w3.split('\n').filter((l) => l.includes(why)).length, 1, w3);
  // The findings across nodes: one line for w3, no finding per unchecked check.
  const findings = tty.slice(0, tty.indexOf('Node: '));
  assert.deepEqual(findings.split('\n').filter((l) => l.includes(why)).map((l) => l.trim()), [`- skip   w3: 5 checks not run: ${why}`]);
  assert.doesNotMatch(findings, /kernel\.sysctl on 1 node/);
  assert.match(w3, new RegExp(`- skip +5 checks not run: ${why.replace(/[()]/g, '\\$&')}`));
  assert.match(w3, /ssh\.hostkey +host key of w3 is not in/, 'the real reason stays on its own line');
  assert.doesNotMatch(w3, /kernel\.sysctl/);
  const md = renderReport(report, 'markdown', en);
  assert.match(md, /## Nodes not checked\n\n\| Node \| Status \| Reason \|\n\|---\|---\|---\|\n\| w3 \| ⏭️ 5 checks not run \| not logged in: the host key was refused/);
  assert.equal(md.split('\n').filter((l) => l.includes(why)).length, 1);
  assert.match(renderReport(report, 'tty', ko), /5개 점검 실행 안 됨/);
});
