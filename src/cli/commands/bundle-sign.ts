import { resolve } from 'node:path';
import { openBundleSource } from '../../archive/source.ts';
import { loadSigningKey, signBundle } from '../../bundle/sign/bundle-signature.ts';
import { UsageError } from '../../errors.ts';
import type { Command } from '../args.ts';

export const bundleSignCommand: Command = {
  name: 'bundle sign',
  summary: 'sign a bundle with an SSH key (FILE.tar.sig)',
  usage: `Usage: astrago-check bundle sign FILE.tar|FILE.tar.000 --key KEYFILE [--passphrase-env VAR]

Writes FILE.tar.sig, an OpenSSH SSHSIG signature (namespace astrago-bundle) of
the whole tar (of a split bundle: the tar its parts make up, cat FILE.tar.* | ssh-keygen ...). Ed25519, ECDSA and RSA keys (OpenSSH, PEM or PuTTY format).
OpenSSH alone checks it:
  ssh-keygen -Y verify -f allowed_signers -I ID -n astrago-bundle -s FILE.tar.sig < FILE.tar

Options:
  --key FILE            the private key (e.g. ~/.ssh/id_ed25519)
  --passphrase-env VAR  the environment variable that holds the key's passphrase
  -h, --help            this help`,
  options: { key: { type: 'string' }, 'passphrase-env': { type: 'string' } },
  positionals: [1, 1],
  async run(values, positionals, io) {
    if (typeof values.key !== 'string' || !values.key) throw new UsageError('bundle sign: --key KEYFILE is required');
    const key = await loadSigningKey(resolve(io.cwd, values.key), values['passphrase-env'] as string | undefined, io.env);
    const src = await openBundleSource(resolve(io.cwd, positionals[0]!));
    // A split bundle is signed as the tar its parts make up.
    const r = await signBundle(src.tarName, src.parts.map((p) => p.file), key);
    io.stdout.write(`Signed ${positionals[0]} with ${r.type} key ${r.fingerprint}: ${r.sigFile}\n`);
    return 0;
  },
};
