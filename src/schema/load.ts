// Reads a YAML file a user wrote and validates it with a zod schema, so every
// rejection names the file, the line and the field.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isNode, isScalar, visit, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { errorMessage, InputError, InputErrors } from '../errors.ts';

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** A validated YAML file, with the line of any path in it (for errors about values the schema accepted). */
export interface LocatedYaml<T> {
  value: T;
  /** 1-based line of `path`, or of its nearest parent that exists */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/** Parses YAML text and validates it; throws InputErrors naming file/line/field. */
export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  return parseYamlLocated(text, file, schema).value;
}

/** parseYaml, keeping the parsed document for later line lookups (one parse, however many lookups). */
function parseYamlLocated<S extends z.ZodType>(text: string, file: string, schema: S): LocatedYaml<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InputErrors(
      doc.errors.map((e) => {
        const line = e.linePos?.[0]?.line;
        return new InputError({ file, line, expected: `invalid YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` });
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml throws (not reports) for unresolved aliases and alias bombs.
    throw new InputError({ file, line: firstAliasLine(doc, lineCounter), expected: `invalid YAML: ${errorMessage(err)}` });
  }
  const result = schema.safeParse(data);
  if (result.success) return { value: result.data, lineOf: (path) => lineOf(doc, path, lineCounter) };
  const errors = result.error.issues.flatMap((issue) => {
    // An unknown key is reported where it is written, not at its parent mapping.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => new InputError({ file, line: keyLine(doc, issue.path, k, lineCounter) ?? lineOf(doc, issue.path, lineCounter), field: fieldPath([...issue.path, k]), expected: `unknown field '${k}'` }));
    }
    const line = lineOf(doc, issue.path, lineCounter);
    const field = fieldPath(issue.path);
    const missing = issue.code === 'invalid_type' && !hasPath(data, issue.path);
    return new InputError({ file, line, field: field || undefined, expected: missing ? `required field is missing (expected ${issue.expected})` : describeIssue(issue) });
  });
  throw new InputErrors(errors);
}

export function loadYamlFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  return loadYamlFileLocated(file, schema).value;
}

/** loadYamlFile, with line lookups into the same parse. */
export function loadYamlFileLocated<S extends z.ZodType>(file: string, schema: S): LocatedYaml<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file, expected: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})` });
  }
  return parseYamlLocated(text, file, schema);
}

function lineOf(doc: ReturnType<typeof parseDocument>, path: readonly PropertyKey[], lc: LineCounter): number | undefined {
  // Walk up the path until a node exists (a missing field points at its parent).
  for (let n = path.length; n >= 0; n--) {
    const keyPath = path.slice(0, n) as (string | number)[];
    const node: unknown = n === 0 ? doc.contents : doc.getIn(keyPath, true);
    if (isNode(node) && (node as YamlNode).range) {
      return lc.linePos((node as YamlNode).range![0]).line;
    }
  }
  return undefined;
}

/** 1-based line of the key `key` in the mapping at `path`. */
function keyLine(doc: ReturnType<typeof parseDocument>, path: readonly PropertyKey[], key: string, lc: LineCounter): number | undefined {
  const node: unknown = path.length === 0 ? doc.contents : doc.getIn(path as (string | number)[], true);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  const range = isNode(pair?.key) ? (pair.key as YamlNode).range : undefined;
  return range ? lc.linePos(range[0]).line : undefined;
}

function firstAliasLine(doc: ReturnType<typeof parseDocument>, lc: LineCounter): number | undefined {
  let line: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (node.range) line = lc.linePos(node.range[0]).line;
      return visit.BREAK;
    },
  });
  return line;
}

function hasPath(data: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = data;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object' || !(p in (cur as object))) return false;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur !== undefined;
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    default:
      return issue.message;
  }
}
