// TLS handshake facts over any stream the Host opened: is the chain trusted,
// does the name match, when does the certificate expire. Trust and name are
// checked apart, so a report can say which of the two is wrong.
import { checkServerIdentity, connect as tlsConnect, rootCertificates, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';

export interface TlsFacts {
  protocol?: string;
  trusted: boolean;
  /** OpenSSL's verdict on the chain, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED. */
  trustError?: string;
  nameMatches: boolean;
  nameError?: string;
  subject?: string;
  issuer?: string;
  altNames?: string;
  validFrom?: string;
  validTo?: string;
  expiresInDays?: number;
  fingerprint256?: string;
}

export interface TlsOptions {
  /** The name the client asked for (SNI unless an IP, and the identity checked). */
  host: string;
  /** Extra trusted CAs (PEM), added to the system roots as containerd does. */
  caPems?: string[];
  rejectUnauthorized: boolean;
  timeoutMs: number;
  now?: Date;
}

function dn(x: unknown): string | undefined {
  if (!x || typeof x !== 'object') return undefined;
  return Object.entries(x as Record<string, unknown>)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

/** Wraps the stream in TLS and waits for the handshake. */
export async function startTls(socket: Duplex, opts: TlsOptions): Promise<TLSSocket> {
  return await new Promise((resolve, reject) => {
    const ca = opts.caPems?.length ? [...rootCertificates, ...opts.caPems] : undefined;
    const tlsSock = tlsConnect({
      socket,
      servername: isIP(opts.host) ? undefined : opts.host,
      ca,
      rejectUnauthorized: opts.rejectUnauthorized,
      ALPNProtocols: ['http/1.1'],
      // Identity is checked by us (tlsFacts) or, when rejecting, by Node below.
      ...(opts.rejectUnauthorized ? {} : { checkServerIdentity: () => undefined }),
    });
    const timer = setTimeout(() => {
      tlsSock.destroy();
      reject(new Error(`TLS handshake with ${opts.host} did not finish within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    tlsSock.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(tlsSock);
    });
    tlsSock.once('error', (err) => {
      clearTimeout(timer);
      tlsSock.destroy();
      reject(err);
    });
  });
}

/** Handshake without rejecting, then report trust, name and validity separately. */
export async function inspectTls(socket: Duplex, opts: Omit<TlsOptions, 'rejectUnauthorized'>): Promise<TlsFacts> {
  const s = await startTls(socket, { ...opts, rejectUnauthorized: false });
  try {
    const cert = s.getPeerCertificate(false) as PeerCertificate;
    const nameErr = cert && Object.keys(cert).length ? checkServerIdentity(opts.host, cert) : new Error('no certificate');
    const now = opts.now ?? new Date();
    const validTo = cert.valid_to ? new Date(cert.valid_to) : undefined;
    return {
      protocol: s.getProtocol() ?? undefined,
      trusted: s.authorized,
      trustError: s.authorizationError ? String(s.authorizationError) : undefined,
      nameMatches: !nameErr,
      nameError: nameErr?.message,
      subject: dn(cert.subject),
      issuer: dn(cert.issuer),
      altNames: cert.subjectaltname,
      validFrom: cert.valid_from ? new Date(cert.valid_from).toISOString() : undefined,
      validTo: validTo?.toISOString(),
      expiresInDays: validTo ? Math.floor((validTo.getTime() - now.getTime()) / 86_400_000) : undefined,
      fingerprint256: cert.fingerprint256,
    };
  } finally {
    s.destroy();
  }
}
