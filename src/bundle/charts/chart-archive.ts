// Reading a packaged chart (.tgz): its Chart.yaml and values.yaml, streamed
// through node-tar's parser (only those two small entries are kept).
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar';
import { parse as parseYamlText } from 'yaml';
import { OperationError } from '../../errors.ts';

export interface ChartMetadata {
  apiVersion?: string;
  name: string;
  version: string;
  appVersion?: string;
  [k: string]: unknown;
}

export interface ChartArchive {
  metadata: ChartMetadata;
  /** values.yaml text of the top chart ('' when absent) */
  values: string;
}

/**
 * Reads NAME/Chart.yaml and NAME/values.yaml of a chart archive: a file, or
 * a stream of one (an entry of a bundle tar).
 */
export async function readChartArchive(file: string | Readable, what = typeof file === 'string' ? file : 'chart archive'): Promise<ChartArchive> {
  let chartYaml: string | undefined;
  let values = '';
  // Loaded on use: a bundle of images only never needs it, and it costs start-up time.
  const { Parser } = await import('tar');
  const parser = new Parser({
    onReadEntry(entry: ReadEntry) {
      // Only the top chart's files (one directory deep), not subcharts.
      const m = /^[^/]+\/(Chart\.yaml|values\.yaml)$/.exec(entry.path);
      if (!m || entry.type !== 'File') {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (m[1] === 'Chart.yaml') chartYaml ??= text;
        else values ||= text;
      });
    },
  });
  try {
    await pipeline(typeof file === 'string' ? createReadStream(file) : file, parser);
  } catch (err) {
    throw new OperationError(`${what}: not a readable chart archive (${(err as Error).message})`);
  }
  if (chartYaml === undefined) throw new OperationError(`${what}: no Chart.yaml in the chart archive`);
  const meta = parseChartYaml(chartYaml, what);
  return { metadata: meta, values };
}

export function parseChartYaml(text: string, what: string): ChartMetadata {
  let doc: unknown;
  try {
    doc = parseYamlText(text);
  } catch (err) {
    throw new OperationError(`${what}: Chart.yaml is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const m = doc as Record<string, unknown> | null;
  if (!m || typeof m !== 'object' || typeof m.name !== 'string' || (typeof m.version !== 'string' && typeof m.version !== 'number')) {
    throw new OperationError(`${what}: Chart.yaml needs name and version`);
  }
  return { ...m, name: m.name, version: String(m.version), appVersion: m.appVersion === undefined ? undefined : String(m.appVersion) };
}
