// --allowed-signers FILE [--identity ID] [--revoked-keys FILE], shared by bundle verify and bundle install.
import { resolve } from 'node:path';
import { loadSignerPolicy, type SignerPolicy } from '../../bundle/sign/bundle-signature.ts';
import { UsageError } from '../../errors.ts';
import type { OptionSpec } from '../args.ts';

export const signerOptions: OptionSpec = {
  'allowed-signers': { type: 'string' },
  identity: { type: 'string' },
  'revoked-keys': { type: 'string' },
};

export const SIGNER_USAGE = `  --allowed-signers FILE  require FILE.tar.sig, a good signature by a key this
                        OpenSSH allowed_signers file lists (see ssh-keygen(1))
  --identity ID         ... listed for this principal (default: any principal)
  --revoked-keys FILE   keys that no longer sign: public keys one a line, or a KRL`;

export async function signerPolicyFrom(cmd: string, values: Record<string, unknown>, cwd: string): Promise<SignerPolicy | undefined> {
  const file = values['allowed-signers'];
  if (typeof file !== 'string') {
    if (values.identity !== undefined || values['revoked-keys'] !== undefined) throw new UsageError(`${cmd}: --identity and --revoked-keys need --allowed-signers FILE`);
    return undefined;
  }
  const revoked = values['revoked-keys'];
  return await loadSignerPolicy(resolve(cwd, file), {
    ...(typeof values.identity === 'string' ? { identity: values.identity } : {}),
    ...(typeof revoked === 'string' ? { revokedKeys: resolve(cwd, revoked) } : {}),
  });
}
