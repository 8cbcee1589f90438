// Kept facts for the preflight command (--save-facts, --from-facts): record a run's facts
// and write them with every known secret masked, or make a run of kept facts judged again.
import type { FactsFile } from '../../preflight/facts-file.ts';
import { redactValue } from '../../report/redact.ts';
import { writeOutputFile } from '../output.ts';

export { FactsRecorder } from '../../preflight/facts-file.ts';
export { runFromFacts } from '../../preflight/rejudge.ts';

/** Writes the facts (secrets masked) and says where they went. */
export function saveFacts(file: string, doc: FactsFile, secrets: readonly string[], say: { write(s: string): unknown }): void {
  writeOutputFile('preflight', file, JSON.stringify(redactValue(doc, secrets)) + '\n', 'the facts', '--save-facts');
  say.write(`facts written to ${file}: ${doc.checks.length} node checks on ${doc.nodes.length} nodes, ${doc.siteChecks.length} site checks\n`);
}
