// Packages a local chart directory into NAME-VERSION.tgz the way `helm package`
// lays it out (every file under NAME/), but reproducibly: entries sorted, fixed
// mtime, uid/gid 0, modes 0644/0755, gzip with a zero header mtime, so the
// same directory always gives the same bytes and the same digest.
// .helmignore basics: comments, blank lines, globs (* ? [..]) matched against
// the base name, or against the relative path when the pattern has a '/',
// a trailing '/' for directories only, and '!' to re-include.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { InputError } from '../../errors.ts';
import { TarWriter } from '../../archive/tar-writer.ts';
import { parseChartYaml, type ChartMetadata } from './chart-archive.ts';

interface IgnoreRule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
  onPath: boolean;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += '[' + glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseHelmignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    line = line.replace(/^\.\//, '').replace(/^\//, '');
    if (!line) continue;
    rules.push({ re: globToRegExp(line), negate, dirOnly, onPath: line.includes('/') });
  }
  return rules;
}

export function isIgnored(rules: IgnoreRule[], relPath: string, isDir: boolean): boolean {
  let ignored = false;
  const base = relPath.slice(relPath.lastIndexOf('/') + 1);
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.re.test(r.onPath ? relPath : base)) ignored = !r.negate;
  }
  return ignored;
}

interface ChartFile {
  rel: string;
  abs: string;
  size: number;
  mode: number;
}

function walk(dir: string, rel: string, rules: IgnoreRule[], out: ChartFile[]): void {
  const names = readdirSync(dir).sort();
  for (const name of names) {
    const r = rel ? `${rel}/${name}` : name;
    const abs = join(dir, name);
    const st = statSync(abs);
    if (isIgnored(rules, r, st.isDirectory())) continue;
    if (st.isDirectory()) walk(abs, r, rules, out);
    else if (st.isFile()) out.push({ rel: r, abs, size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 });
  }
}

export interface PackagedChart {
  metadata: ChartMetadata;
  fileName: string;
  data: Buffer;
}

/** Packages `dir`; `expectName`/`expectVersion` come from the spec and must agree with Chart.yaml. */
export async function packageChart(dir: string, opts: { expectName?: string; expectVersion?: string; mtime?: number; specFile?: string } = {}): Promise<PackagedChart> {
  const chartFile = join(dir, 'Chart.yaml');
  let text: string;
  try {
    text = readFileSync(chartFile, 'utf8');
  } catch {
    throw new InputError({ file: chartFile, expected: 'a chart directory needs a Chart.yaml' });
  }
  let metadata: ChartMetadata;
  try {
    metadata = parseChartYaml(text, chartFile);
  } catch (err) {
    throw new InputError({ file: chartFile, expected: (err as Error).message.replace(`${chartFile}: `, '') });
  }
  if (opts.expectName && metadata.name !== opts.expectName) {
    throw new InputError({ file: chartFile, field: 'name', expected: `the bundle spec${opts.specFile ? ` (${opts.specFile})` : ''} names this chart '${opts.expectName}', Chart.yaml says '${metadata.name}'` });
  }
  if (opts.expectVersion && metadata.version !== opts.expectVersion) {
    throw new InputError({ file: chartFile, field: 'version', expected: `the bundle spec asks for version ${opts.expectVersion}, Chart.yaml has ${metadata.version}` });
  }
  let rules: IgnoreRule[] = [];
  try {
    rules = parseHelmignore(readFileSync(join(dir, '.helmignore'), 'utf8'));
  } catch {
    /* no .helmignore */
  }
  const files: ChartFile[] = [];
  walk(dir, '', rules, files);
  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  const chunks: Buffer[] = [];
  const gz = createGzip({ level: 9 });
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const done = new Promise<void>((resolve, reject) => {
    gz.pipe(sink).on('finish', resolve).on('error', reject);
    gz.on('error', reject);
  });
  const tar = new TarWriter(gz, { mtime: opts.mtime ?? 0 });
  for (const f of files) await tar.addFile(`${metadata.name}/${f.rel}`, f.size, readFileSync(f.abs), f.mode);
  await tar.finish();
  gz.end();
  await done;
  return { metadata, fileName: `${metadata.name}-${metadata.version}.tgz`, data: Buffer.concat(chunks) };
}
