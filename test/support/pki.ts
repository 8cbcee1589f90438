// A throw-away PKI for tests, made with openssl.
//
//   const pki = createPki();                 // test CA in a fresh temp dir
//   const srv = pki.issue('registry');       // {cert, key}: SAN IP:127.0.0.1, DNS:localhost, signed by the CA
//   pki.caCert                               // CA certificate path (give it to clients as caFile)
//   pki.cleanup()                            // removes the temp dir
//
// All values are file paths (PEM). issue(name, {san}) lets a test choose other SANs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCert {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  issue(name: string, opts?: { san?: string; cn?: string }): IssuedCert;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createPki(dir = mkdtempSync(join(tmpdir(), 'ac-pki-'))): Pki {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', '/CN=astrago-check test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  let serial = 1;
  return {
    dir,
    caCert,
    caKey,
    issue(name, opts = {}) {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      const san = opts.san ?? 'IP:127.0.0.1,DNS:localhost';
      writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n`);
      openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${opts.cn ?? name}`], dir);
      openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(serial++), '-out', cert, '-days', '2', '-extfile', ext], dir);
      return { cert, key };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
