// A CA bundle file the site names: PEM certificates, checked before use so a
// wrong file (DER, a key, garbage) gives a clear message, not a TLS crash.
import { X509Certificate } from 'node:crypto';

export type CaBundle = { ok: true; pems: string[]; subjects: string[] } | { ok: false; error: string };

export function parseCaBundle(text: string, file: string): CaBundle {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    const what = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? 'a private key' : 'no PEM certificate';
    return { ok: false, error: `CA file ${file} holds ${what} (expected one or more '-----BEGIN CERTIFICATE-----' blocks)` };
  }
  const subjects: string[] = [];
  for (const [i, pem] of blocks.entries()) {
    try {
      subjects.push(new X509Certificate(pem).subject.replace(/\n/g, ', '));
    } catch (err) {
      return { ok: false, error: `CA file ${file}: certificate ${i + 1} is not valid PEM (${(err as Error).message})` };
    }
  }
  return { ok: true, pems: blocks, subjects };
}
