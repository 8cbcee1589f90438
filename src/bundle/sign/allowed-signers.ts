// OpenSSH's allowed_signers file (ssh-keygen(1) "ALLOWED SIGNERS") and the
// decision on a signature's key: which line lists it for the identity, with
// the line's options honoured (namespaces=, valid-after=, valid-before=;
// cert-authority lines name CAs, which sign certificates, never a plain key).
// Pure: the caller reads the file.
import { InputError } from '../../errors.ts';
import { fingerprint } from '../../preflight/hosts/known-hosts.ts';
import { blobKeyType, supportedKeyType } from './ssh-keys.ts';

export interface AllowedSigner {
  line: number;
  principals: string[];
  key: Buffer;
  certAuthority: boolean;
  namespaces?: string[];
  validAfter?: Date;
  validBefore?: Date;
}

/** Splits at unquoted whitespace; double quotes group (and are kept inside option values). */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && /\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** `YYYYMMDD[HHMM[SS]][Z]` as OpenSSH writes it (local time unless Z). */
export function parseSshTime(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1, 7).map((v) => v ?? '0') as string[];
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  return m[7] ? new Date(Date.UTC(...parts)) : new Date(...parts);
}

function parseOptions(text: string, file: string, line: number): Pick<AllowedSigner, 'certAuthority' | 'namespaces' | 'validAfter' | 'validBefore'> {
  const out: ReturnType<typeof parseOptions> = { certAuthority: false };
  // Options are comma-separated; commas inside quoted values belong to the value.
  for (const opt of text.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const [name, ...rest] = opt.split('=');
    const value = rest.join('=').replace(/^"(.*)"$/, '$1');
    const bad = (expected: string) => new InputError({ file, line, field: name!, expected });
    if (name === 'cert-authority' && rest.length === 0) out.certAuthority = true;
    else if (name === 'namespaces') out.namespaces = value.split(',').filter(Boolean);
    else if (name === 'valid-after' || name === 'valid-before') {
      const t = parseSshTime(value);
      if (!t) throw bad(`a time as YYYYMMDD[HHMM[SS]][Z] (got '${value}')`);
      out[name === 'valid-after' ? 'validAfter' : 'validBefore'] = t;
    } else throw bad(`an option cert-authority, namespaces="...", valid-after="..." or valid-before="..." (got '${opt}')`);
  }
  return out;
}

export function parseAllowedSigners(text: string, file: string): AllowedSigner[] {
  const out: AllowedSigner[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const f = fields(trimmed);
    const principals = f.shift()!.replace(/^"(.*)"$/, '$1');
    // The options field is there when the next field is not a key type.
    let opts: ReturnType<typeof parseOptions> = { certAuthority: false };
    if (f[0] && !/^(ssh-|ecdsa-|sk-)/.test(f[0])) opts = parseOptions(f.shift()!, file, line);
    const [type, b64] = f;
    if (!type || !b64) throw new InputError({ file, line, expected: "expected an allowed_signers line 'PRINCIPALS [OPTIONS] KEYTYPE BASE64KEY [COMMENT]' (ssh-keygen(1), ALLOWED SIGNERS), e.g. 'release@example.com ssh-ed25519 AAAA...'" });
    const key = Buffer.from(b64, 'base64');
    let inner: string;
    try {
      inner = blobKeyType(key);
    } catch {
      inner = '';
    }
    if (inner !== type) throw new InputError({ file, line, field: type, expected: `a ${type} public key in base64 (the key is damaged or of another type)` });
    if (!supportedKeyType(type) && !opts.certAuthority) throw new InputError({ file, line, field: type, expected: 'an Ed25519, ECDSA or RSA key' });
    out.push({ line, principals: principals.split(',').filter(Boolean), key, ...opts });
  });
  return out;
}

function wildcard(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(text);
}

/** OpenSSH's match_pattern_list: any positive pattern matches and no negated (`!pat`) one does. Case-sensitive. */
export function matchPatternList(patterns: string[], text: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), text)) return false;
    } else if (wildcard(p, text)) matched = true;
  }
  return matched;
}

export type SignerVerdict = { ok: true; principals: string[]; line: number; fingerprint: string } | { ok: false; reason: string; fingerprint: string };

/**
 * Is `key` allowed to sign in `namespace` (for `identity`, when given) at `now`?
 * Fails closed: no line, another identity, a namespace or time window that
 * excludes it, a revoked key.
 */
export function judgeSigner(signers: AllowedSigner[], key: Buffer, namespace: string, opts: { identity?: string; revoked?: (key: Buffer) => boolean; now?: Date; file: string }): SignerVerdict {
  const fp = fingerprint(key);
  const type = blobKeyType(key);
  if (opts.revoked?.(key)) return { ok: false, reason: `signed by ${type} key ${fp}, which is revoked`, fingerprint: fp };
  const now = opts.now ?? new Date();
  const lines = signers.filter((s) => !s.certAuthority && s.key.equals(key));
  if (lines.length === 0) return { ok: false, reason: `signed by ${type} key ${fp}, which ${opts.file} does not list`, fingerprint: fp };
  const reasons: string[] = [];
  for (const s of lines) {
    if (opts.identity !== undefined && !matchPatternList(s.principals, opts.identity)) {
      reasons.push(`line ${s.line} lists it for ${s.principals.join(',')}, not for ${opts.identity}`);
    } else if (s.namespaces && !matchPatternList(s.namespaces, namespace)) {
      reasons.push(`line ${s.line} allows it only for namespaces ${s.namespaces.join(',')}, not ${namespace}`);
    } else if (s.validAfter && now < s.validAfter) {
      reasons.push(`line ${s.line} makes it valid only after ${s.validAfter.toISOString()}`);
    } else if (s.validBefore && now >= s.validBefore) {
      reasons.push(`line ${s.line} made it valid only before ${s.validBefore.toISOString()}`);
    } else return { ok: true, principals: opts.identity !== undefined ? [opts.identity] : s.principals, line: s.line, fingerprint: fp };
  }
  return { ok: false, reason: `signed by ${type} key ${fp}, but ${opts.file} ${reasons.join('; ')}`, fingerprint: fp };
}
