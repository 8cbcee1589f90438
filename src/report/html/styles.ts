// The page's only stylesheet, inline. Local fonts only (no web fonts), colours
// kept when printed, node details unfolded on paper.
export const STYLES = `
:root { --pass:#1b5e20; --pass-bg:#dcefdc; --warn:#6b4500; --warn-bg:#ffe08a; --fail:#fff; --fail-bg:#b3261e;
  --skip:#4a4a4a; --skip-bg:#e6e6e6; --error:#fff; --error-bg:#4a148c; --line:#c8c8c8; --muted:#5f5f5f; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0 auto; max-width: 1400px; padding: 24px; color: #1a1a1a; background: #fff; line-height: 1.45;
  font: 14px/1.45 system-ui, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK KR", "Nanum Gothic", "Malgun Gothic", "Apple SD Gothic Neo", "DejaVu Sans", sans-serif; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #1a1a1a; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Noto Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { margin: 4px 0 0; padding: 6px 8px; background: #f4f4f4; border-left: 3px solid #888; white-space: pre-wrap; overflow-wrap: anywhere; }
.defs { position: absolute; width: 0; height: 0; overflow: hidden; }
.i { width: 14px; height: 14px; vertical-align: -2px; flex: none; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
table { border-collapse: collapse; }
.meta th { text-align: left; padding: 2px 16px 2px 0; white-space: nowrap; color: var(--muted); font-weight: 600; vertical-align: top; }
.meta td { padding: 2px 0; overflow-wrap: anywhere; }
.st-pass { color: var(--pass); background: var(--pass-bg); } .st-warn { color: var(--warn); background: var(--warn-bg); }
.st-fail { color: var(--fail); background: var(--fail-bg); } .st-skip { color: var(--skip); background: var(--skip-bg); }
.st-error { color: var(--error); background: var(--error-bg); }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 8px; padding: 0; list-style: none; }
.counts li { display: flex; align-items: center; gap: 6px; padding: 6px 12px; border-radius: 4px; font-weight: 600; border: 1px solid rgba(0,0,0,.25); }
.counts .n { font-size: 18px; }
.verdict { font-weight: 700; font-size: 16px; margin: 6px 0; }
.bar { display: block; width: 100%; max-width: 640px; height: 14px; border: 1px solid #888; }
.matrix-wrap { overflow-x: auto; }
.matrix { font-size: 12px; }
.matrix th, .matrix td { border: 1px solid var(--line); }
.matrix thead th { background: #f2f2f2; font-weight: 600; }
.matrix .cat th { padding: 2px 4px; font-size: 11px; white-space: nowrap; overflow: hidden; max-width: 1px; text-overflow: ellipsis; }
.matrix .ids th { padding: 4px 0; height: 58px; vertical-align: bottom; }
.matrix .ids th span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; display: inline-block; }
.matrix th.node { text-align: left; padding: 1px 8px; white-space: nowrap; max-width: 200px; overflow: hidden; text-overflow: ellipsis; font-weight: 600; background: #fafafa; position: sticky; left: 0; }
.matrix th.node small { display: block; color: var(--muted); font-weight: 400; font-size: 10px; line-height: 1.1; }
.matrix td { width: 21px; min-width: 21px; height: 22px; padding: 0; text-align: center; }
.matrix td a { display: block; color: inherit; line-height: 22px; }
.matrix td.none { color: #999; background: #fff; }
.matrix td.unchecked { text-align: left; padding: 0 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 1px; }
h3 { font-size: 15px; margin: 16px 0 8px; }
.results.unchecked { margin-bottom: 14px; }
.results.unchecked th:nth-child(1) { width: 25%; } .results.unchecked th:nth-child(2) { width: 25%; } .results.unchecked th:nth-child(3) { width: 50%; }
.matrix td.sum { width: auto; padding: 0 6px; white-space: nowrap; text-align: right; color: #1a1a1a; background: #fafafa; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 8px 0 0; padding: 0; list-style: none; font-size: 12px; }
.legend li { display: flex; align-items: center; gap: 4px; }
.legend .sw { display: inline-flex; align-items: center; justify-content: center; width: 20px; height: 18px; border: 1px solid var(--line); }
.findings { list-style: none; margin: 0; padding: 0; }
.finding { border: 1px solid var(--line); border-left-width: 6px; padding: 8px 10px; margin: 0 0 10px; break-inside: avoid; }
.finding.fail { border-left-color: var(--fail-bg); } .finding.error { border-left-color: var(--error-bg); }
.finding.warn { border-left-color: #d99a00; } .finding.skip { border-left-color: #9e9e9e; }
.finding .head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; }
.badge { display: inline-flex; align-items: center; gap: 4px; padding: 1px 7px; border-radius: 3px; font-weight: 700; font-size: 12px; }
.finding .where { color: var(--muted); }
.finding .msg { margin: 4px 0 0; overflow-wrap: anywhere; }
details.node { border: 1px solid var(--line); margin: 0 0 8px; }
details.node > summary { cursor: pointer; padding: 6px 10px; background: #f7f7f7; font-weight: 600; }
details.node > summary .counts-inline { font-weight: 400; color: var(--muted); margin-left: 8px; }
.results { width: 100%; font-size: 12.5px; table-layout: fixed; }
.results th:nth-child(1) { width: 28%; } .results th:nth-child(2) { width: 17%; } .results th:nth-child(3) { width: 11%; }
.results td code { overflow-wrap: anywhere; }
.results th { text-align: left; background: #f2f2f2; }
.results th, .results td { border-top: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
.results td.msg { overflow-wrap: anywhere; }
.results td.status { white-space: nowrap; overflow: hidden; }
.results tr { break-inside: avoid; }
details.facts summary { cursor: pointer; color: var(--muted); font-size: 12px; }
a { color: #0b57d0; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  @page { size: A4; margin: 12mm; }
  /* The matrix gets landscape pages of its own: a column per checklist item needs the width. */
  @page matrix { size: A4 landscape; margin: 10mm; }
  #matrix { page: matrix; }
  .matrix { font-size: 10px; }
  .matrix td { width: 17px; min-width: 17px; height: 17px; }
  .matrix td a { line-height: 17px; }
  .matrix .i { width: 12px; height: 12px; }
  .matrix th.node { max-width: 150px; }
  h2 { break-after: avoid; }
  .matrix-wrap { overflow: visible; }
  .matrix th.node { position: static; }
  .matrix td a { text-decoration: none; }
  details::details-content { content-visibility: visible; display: block; }
  details.facts { display: none; }
  details.node { break-inside: auto; }
}
`;
