// Helm values as data: coalescing (later values win, maps merge, null deletes),
// paths (`a.b[0].c`, `a\.b` for a key with a dot, as `helm --set` writes them),
// and the spec's `set: {path: value}` turned into one values document.
export type Values = Record<string, unknown>;

export function isMap(v: unknown): v is Values {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `over` coalesced onto `base` (neither is changed): maps merge key by key, a null in `over` deletes. */
export function coalesce(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = coalesce(out[k] as Values, v);
    else out[k] = v;
  }
  return out;
}

export type PathPart = string | number;

/** Parses `a.b[0].c` (and `a\.b`); throws Error with the reason when malformed. */
export function parseValuesPath(path: string): PathPart[] {
  const parts: PathPart[] = [];
  let cur = '';
  let afterIndex = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\' && path[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (c === '.') {
      if (!cur && !afterIndex) throw new Error(`empty key at position ${i + 1}`);
      if (cur) parts.push(cur);
      cur = '';
      afterIndex = false;
    } else if (c === '[') {
      const end = path.indexOf(']', i);
      const n = end > i ? path.slice(i + 1, end) : '';
      if (!/^\d+$/.test(n)) throw new Error(`expected a list index like [0] at position ${i + 1}`);
      if (cur) parts.push(cur);
      else if (!parts.length) throw new Error('a path cannot start with an index');
      cur = '';
      parts.push(Number(n));
      i = end;
      afterIndex = true;
    } else {
      if (afterIndex) throw new Error(`expected '.' or '[' after an index at position ${i + 1}`);
      cur += c;
    }
  }
  if (cur) parts.push(cur);
  else if (!afterIndex) throw new Error(path ? 'the path ends with a dot' : 'empty path');
  return parts;
}

export function formatValuesPath(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += (out ? '.' : '') + p.replace(/\./g, '\\.');
  }
  return out;
}

export function getPath(values: unknown, parts: readonly PathPart[]): unknown {
  let cur = values;
  for (const p of parts) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isMap(cur) ? cur[p] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/**
 * Sets `parts` to `value` in `target` (changed in place), creating maps and
 * lists on the way. Throws Error naming the part that is a scalar in the way.
 */
export function setPath(target: Values, parts: readonly PathPart[], value: unknown): void {
  let cur: unknown = target;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const last = i === parts.length - 1;
    const nextIsIndex = !last && typeof parts[i + 1] === 'number';
    const here = formatValuesPath(parts.slice(0, i + 1));
    if (typeof p === 'number') {
      if (!Array.isArray(cur)) throw new Error(`'${formatValuesPath(parts.slice(0, i))}' is not a list`);
      if (last) cur[p] = value;
      else {
        if (cur[p] === undefined || cur[p] === null) cur[p] = nextIsIndex ? [] : {};
        else if (typeof cur[p] !== 'object') throw new Error(`'${here}' is a ${typeof cur[p]}, not a map or list`);
        cur = cur[p];
      }
      continue;
    }
    const m = cur as Values;
    if (last) m[p] = value;
    else {
      if (m[p] === undefined || m[p] === null) m[p] = nextIsIndex ? [] : {};
      else if (typeof m[p] !== 'object') throw new Error(`'${here}' is a ${typeof m[p]} (${JSON.stringify(m[p])}), not a map or list`);
      else if (nextIsIndex !== Array.isArray(m[p])) throw new Error(`'${here}' is a ${Array.isArray(m[p]) ? 'list' : 'map'}`);
      cur = m[p];
    }
  }
}

/** Deep copy of plain values (YAML/JSON data). */
export function cloneValues<T>(v: T): T {
  return v === undefined ? v : (structuredClone(v) as T);
}
