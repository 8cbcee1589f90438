// The registry connection bundle install pushes through: H5's RegistryClient
// (transport: TLS with a private CA, explicit --insecure, plain HTTP only for
// --insecure or a loopback host; auth: docker config or site-file secret
// references, Basic or Bearer per repository scope; retries of replayable
// requests), seen through the small PushSession interface push.ts needs.
import { OperationError, errorMessage } from '../../errors.ts';
import type { RegistrySettings } from '../../schema/bundle-spec.ts';
import { repositoryScope } from '../../oci/registry/auth.ts';
import { RegistryClient } from '../../oci/registry/client.ts';
import type { PushRequest, PushResponse, PushSession } from '../../oci/registry/push.ts';
import type { RegistryTarget } from './plan.ts';

export interface SessionOptions {
  target: RegistryTarget;
  caFile?: string;
  insecure?: boolean;
  /** credentials by reference (site file registry: username + passwordEnv/passwordFile) */
  username?: string;
  passwordEnv?: string;
  passwordFile?: string;
  env: NodeJS.ProcessEnv;
  /** parallel connections to the registry */
  connections?: number;
}

const CREDENTIALS_HINT = "check the credentials (~/.docker/config.json as written by docker/skopeo login, or the site file's registry username and passwordEnv/passwordFile)";

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Adds what to do about a TLS failure to its message. */
function explain(host: string, err: unknown): OperationError {
  const msg = errorMessage(err).replace(/^registry [^:]+: /, '').trim();
  if (/wrong version number|EPROTO|packet length/i.test(msg)) {
    // OpenSSL's own text (file names, line numbers) says nothing a user can act on.
    return new OperationError(`cannot reach registry ${host} over HTTPS: it does not speak TLS (plain HTTP is used only with --insecure or for a loopback address)`, { cause: err });
  }
  const hint = /certificate|self[- ]signed|UNABLE_TO_VERIFY|unable to get local issuer|CERT_/i.test(msg) ? " (the registry's TLS certificate is not trusted: give its CA with --ca-file, or use --insecure for a registry you trust)" : '';
  return new OperationError(`cannot reach registry ${host}: ${msg}${hint}`, { cause: err });
}

export async function openPushSession(opts: SessionOptions): Promise<PushSession & { user: string | undefined; close(): Promise<void> }> {
  const host = opts.target.host;
  const settings: RegistrySettings = {
    host,
    ...(opts.caFile ? { caFile: opts.caFile } : {}),
    ...(opts.insecure ? { insecure: true } : {}),
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.passwordEnv ? { passwordEnv: opts.passwordEnv } : {}),
    ...(opts.passwordFile ? { passwordFile: opts.passwordFile } : {}),
  };
  const client = new RegistryClient({ registries: [settings], env: opts.env, connections: opts.connections ?? 16 });
  let baseUrl: string;
  let user: string | undefined;
  try {
    // One reachability, TLS and credentials check up front (GET /v2/ through the auth flow,
    // as `docker login` does), so a typo or a bad CA is one clear error before anything else.
    const ep = await client.transport.endpoint(host);
    const res = await client.send(host, { path: '/v2/' });
    await res.body.dump();
    user = client.userFor(host);
    if (res.statusCode === 401 || res.statusCode === 403) throw new OperationError(`registry ${host} refused the credentials${user ? ` of ${user}` : ' (none were found)'} (HTTP ${res.statusCode}): ${CREDENTIALS_HINT}; nothing was pushed or written`);
    if (res.statusCode !== 200) throw new OperationError(`registry ${host} answered GET /v2/ with HTTP ${res.statusCode}: is it a container registry (Registry HTTP API v2)? Nothing was pushed or written`);
    baseUrl = ep.baseUrl;
  } catch (err) {
    await client.close();
    // The client's own words name bundle create's sources (the spec's registries[]); install takes others.
    if (err instanceof OperationError && /needs a login .*no credentials were found/.test(err.message)) {
      throw new OperationError(`registry ${host} needs a login and no credentials were found: give them with --site site.yaml (its registry username and passwordEnv/passwordFile) or 'docker login ${host}' / 'skopeo login ${host}' (~/.docker/config.json); nothing was pushed or written`, { cause: err });
    }
    if (err instanceof OperationError && !/certificate|EPROTO|wrong version|ECONN|ENOTFOUND|EAI_AGAIN|timeout/i.test(err.message)) throw err;
    throw explain(host, err);
  }
  return {
    baseUrl,
    user,
    async request(req: PushRequest): Promise<PushResponse> {
      const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : req.body();
      const res = await client.send(host, {
        method: req.method,
        path: req.path,
        repository: req.repository,
        scope: 'pull,push',
        extraScopes: req.alsoPull ? [repositoryScope(req.alsoPull, 'pull')] : undefined,
        headers: req.headers,
        body,
      });
      if (res.statusCode === 401 || res.statusCode === 403) {
        await res.body.dump();
        throw new OperationError(`registry ${host} refused ${req.method} for ${req.repository} (HTTP ${res.statusCode}): ${CREDENTIALS_HINT}, and that the user may push there`);
      }
      return { status: res.statusCode, headers: flatHeaders(res.headers), text: () => res.body.text() };
    },
    close: () => client.close(),
  };
}
