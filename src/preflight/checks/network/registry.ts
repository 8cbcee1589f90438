// registry.dns, registry.tcp, registry.tls, registry.api, registry.auth: the
// site's registry as seen from the node, through the proxy when the site's
// proxy applies and directly when NO_PROXY covers it (or there is no proxy).
import { defineCheck, type Judgement, type ProbeContext } from '../../types.ts';
import { defaultPort, fetchOnHost, openTunnel, RouteError, describeRoute, type RouteOptions } from '../../net/route.ts';
import { routeFor } from '../../net/proxy.ts';
import { inspectTls, type TlsFacts } from '../../net/tls.ts';
import { resolveOnHost, type Resolution } from '../../net/resolve.ts';
import { challengeProblem, parseChallenge } from '../../net/www-authenticate.ts';
import { RegistryAuth, TokenError, type TokenFetcher } from '../../../oci/registry/auth.ts';
import { isLoopback } from '../../net/no-proxy.ts';
import { describeTcpState, probeTcp } from '../../net/tcp.ts';
import { NODE_ENV, nodeProxySettings } from './proxy-settings.ts';
import { registryCredentials, registryTarget, type RegistryTarget } from './registry-target.ts';
import { stepTimeout } from './targets.ts';

type Base = { registry?: string; error?: string; route?: string };

/** Shared start of every registry probe: the target (or why none) and how to reach it. */
async function begin(ctx: ProbeContext): Promise<{ t?: RegistryTarget; base: Base; opts: RouteOptions }> {
  const t = await registryTarget(ctx);
  const proxy = await nodeProxySettings(ctx);
  const opts: RouteOptions = { proxy, timeoutMs: stepTimeout(ctx.timeoutMs) / 2, signal: ctx.signal };
  if (t === null) return { base: {}, opts };
  if ('error' in t) return { base: { error: t.error }, opts };
  if (t.ca?.ok) opts.caPems = t.ca.pems;
  opts.insecure = t.insecure;
  let route: string;
  try {
    route = describeRoute(routeFor(t.url, proxy));
  } catch (err) {
    route = `proxy unusable: ${(err as Error).message}`;
  }
  return { t, base: { registry: t.url.host, route }, opts };
}

function noRegistry(f: Base): Judgement | undefined {
  if (f.error) return { status: 'fail', message: f.error, remediation: 'fix registry.url in the site file, e.g. https://harbor.acme.local or harbor.acme.local:5443', facts: { ...f } };
  if (!f.registry) return { status: 'skip', message: 'the site file names no registry', facts: {} };
  return undefined;
}

/** sshd on the node forbids forwarding: TLS/HTTP cannot start there; say so instead of failing. */
function forwardingSkip(f: Base & { failure?: { stage: string; message: string } }, what: string): Judgement | undefined {
  if (f.failure?.stage !== 'forwarding') return undefined;
  return {
    status: 'skip',
    message: `${what} not checked: the node's sshd forbids TCP forwarding (AllowTcpForwarding no), so no connection can start on the node (${f.failure.message})`,
    remediation: 'allow forwarding for the install user (AllowTcpForwarding yes in sshd_config, or a Match User block), or run astrago-check on the node itself',
    facts: { ...f },
  };
}

function routeFailure(err: unknown): { stage: string; message: string; tcpState?: string; proxyStatus?: number } {
  if (err instanceof RouteError) return { stage: err.stage, message: err.message, tcpState: err.tcpState, proxyStatus: err.proxyStatus };
  return { stage: 'unknown', message: (err as Error).message };
}

// ------------------------------------------------------------------ dns

export interface RegistryDnsFacts extends Base {
  resolution?: Resolution;
  viaProxy?: boolean;
}

export const registryDns = defineCheck<RegistryDnsFacts>({
  id: 'registry.dns',
  category: 'registry',
  title: 'Registry name resolves',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const { t, base, opts } = await begin(ctx);
    if (!t) return base;
    const viaProxy = base.route?.startsWith('through proxy') ?? false;
    const resolution = await resolveOnHost(ctx.host, t.url.hostname, { timeoutMs: opts.timeoutMs, signal: ctx.signal });
    return { ...base, resolution, viaProxy };
  },
  judge(f): Judgement {
    const early = noRegistry(f);
    if (early) return early;
    const r = f.resolution!;
    const facts = { ...f };
    if (r.method === 'ip-literal') return { status: 'pass', message: `registry ${f.registry} is an IP address: no name to resolve`, facts };
    if (r.addresses.length) return { status: 'pass', message: `${r.name} resolves to ${r.addresses.join(', ')} (${r.method})`, facts };
    if (f.viaProxy) return { status: 'skip', message: `${r.name} does not resolve on this node, but the registry is reached ${f.route}, which resolves it (${r.error})`, facts };
    return {
      status: 'fail',
      message: `${r.name} does not resolve on this node: ${r.error}`,
      remediation: `add ${r.name} to the site DNS (network.dns), or to /etc/hosts on every node: echo "<registry-ip> ${r.name}" >> /etc/hosts`,
      facts,
    };
  },
});

// ------------------------------------------------------------------ tcp

export interface RegistryTcpFacts extends Base {
  ok?: boolean;
  failure?: ReturnType<typeof routeFailure>;
}

export const registryTcp = defineCheck<RegistryTcpFacts>({
  id: 'registry.tcp',
  category: 'registry',
  title: 'Registry port answers',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const { t, base, opts } = await begin(ctx);
    if (!t) return base;
    if (base.route?.startsWith('direct')) {
      // probeTcp: on SSH nodes whose sshd forbids forwarding it falls back to a shell probe.
      const r = await probeTcp(ctx.host, t.url.hostname.replace(/^\[|\]$/g, ''), defaultPort(t.url), { timeoutMs: opts.timeoutMs, signal: ctx.signal });
      const via = r.via === 'ssh-shell' ? ' (shell probe on the node: sshd forbids forwarding)' : '';
      if (r.state === 'open') return { ...base, ok: true, route: `${base.route}${via}` };
      return { ...base, ok: false, failure: { stage: 'tcp', message: `${r.host}:${r.port}: ${r.error ?? r.state}${via}`, tcpState: r.state } };
    }
    try {
      const { stream } = await openTunnel(ctx.host, t.url, opts);
      stream.destroy();
      return { ...base, ok: true };
    } catch (err) {
      return { ...base, ok: false, failure: routeFailure(err) };
    }
  },
  judge(f): Judgement {
    const early = noRegistry(f);
    if (early) return early;
    const facts = { ...f };
    if (f.ok) return { status: 'pass', message: `${f.registry} answers (${f.route})`, facts };
    const fwd = forwardingSkip(f, 'the tunnel through the proxy');
    if (fwd) return fwd;
    const fl = f.failure!;
    const state = fl.tcpState ? describeTcpState({ host: '', port: 0, state: fl.tcpState as never, ms: 0, via: 'local', error: fl.message }) : fl.message;
    const fix =
      fl.stage === 'proxy'
        ? fl.proxyStatus === 407 || fl.proxyStatus === 401
          ? 'the proxy wants credentials: put the user in the proxy URL and its password in network.proxy.passwordEnv'
          : `the proxy could not open a tunnel to ${f.registry}: ask for CONNECT to be allowed, or add the registry to noProxy if nodes reach it directly`
        : `open ${f.registry} for this node (network firewall, registry host firewall), and check the registry is running`;
    return { status: 'fail', message: `${f.registry} not reachable ${f.route}: ${fl.stage === 'tcp' ? state : fl.message}`, remediation: fix, facts };
  },
});

// ------------------------------------------------------------------ tls

export interface RegistryTlsFacts extends Base {
  scheme?: string;
  insecure?: boolean;
  caFile?: string;
  caError?: string;
  caSubjects?: string[];
  tls?: TlsFacts;
  failure?: ReturnType<typeof routeFailure>;
}

export const registryTls = defineCheck<RegistryTlsFacts>({
  id: 'registry.tls',
  category: 'registry',
  title: 'Registry TLS certificate is trusted and valid',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const { t, base, opts } = await begin(ctx);
    if (!t) return base;
    const facts: RegistryTlsFacts = { ...base, scheme: t.url.protocol.replace(':', ''), insecure: t.insecure, caFile: t.caFile };
    if (t.ca && !t.ca.ok) return { ...facts, caError: t.ca.error };
    if (t.ca?.ok) facts.caSubjects = t.ca.subjects;
    if (t.url.protocol !== 'https:') return facts;
    try {
      const { stream } = await openTunnel(ctx.host, t.url, opts);
      facts.tls = await inspectTls(stream, { host: t.url.hostname.replace(/^\[|\]$/g, ''), caPems: opts.caPems, timeoutMs: opts.timeoutMs });
    } catch (err) {
      facts.failure = routeFailure(err);
    }
    return facts;
  },
  judge(f, ctx): Judgement | Judgement[] {
    const early = noRegistry(f);
    if (early) return early;
    const facts = { ...f };
    if (f.caError) return { status: 'fail', message: f.caError, remediation: 'point registry.caFile at the PEM certificate of the CA that signed the registry certificate (openssl x509 -in FILE -noout -subject checks it)', facts };
    if (f.scheme === 'http') {
      const host = f.registry!.replace(/:\d+$/, '');
      if (f.insecure || isLoopback(host)) return { status: 'pass', message: `registry ${f.registry} uses plain HTTP (${f.insecure ? 'insecure: true' : 'loopback'})`, facts };
      return { status: 'warn', message: `registry ${f.registry} uses plain HTTP: containerd needs it marked insecure and traffic is not encrypted`, remediation: 'serve the registry over HTTPS, or set registry.insecure: true and configure containerd (hosts.toml) for it', facts };
    }
    const fwdTls = forwardingSkip(f, 'TLS');
    if (fwdTls) return fwdTls;
    if (f.failure) return { status: 'fail', message: `no TLS handshake with ${f.registry}: ${f.failure.message}`, remediation: 'see registry.tcp; check the registry serves TLS on this port', facts };
    const t = f.tls!;
    const warnDays = ctx.profile.tls.certExpiryWarnDays;
    const expired = t.trustError === 'CERT_HAS_EXPIRED' || (t.expiresInDays !== undefined && t.expiresInDays < 0);
    const trustProblem = t.trustError && t.trustError !== 'CERT_HAS_EXPIRED' ? t.trustError : undefined;
    const out: Judgement[] = [];
    const sub = (name: string) => `registry.tls[${name}]`;
    const caHint = f.caFile ? `the CA file ${f.caFile} did not sign it` : 'no registry.caFile in the site file and the system CAs do not trust it';
    out.push(
      !trustProblem
        ? { id: sub('trust'), status: 'pass', message: `certificate chain of ${f.registry} is trusted (issuer ${t.issuer ?? '?'})`, facts }
        : {
            id: sub('trust'),
            status: f.insecure ? 'warn' : 'fail',
            message: `certificate of ${f.registry} is not trusted: ${trustProblem} (${caHint}; issuer ${t.issuer ?? '?'})`,
            remediation: `set registry.caFile to the CA that signed the registry certificate, and install it on every node: cp ca.pem /usr/local/share/ca-certificates/registry.crt && update-ca-certificates (RHEL: /etc/pki/ca-trust/source/anchors/ + update-ca-trust), and for containerd /etc/containerd/certs.d/${f.registry}/ca.crt`,
            facts,
          },
    );
    out.push(
      t.nameMatches
        ? { id: sub('name'), status: 'pass', message: `certificate names ${f.registry!.replace(/:\d+$/, '')} (${t.altNames ?? t.subject})`, facts }
        : {
            id: sub('name'),
            status: f.insecure ? 'warn' : 'fail',
            message: `certificate does not name ${f.registry!.replace(/:\d+$/, '')}: ${t.nameError} (subjectAltName: ${t.altNames ?? 'none'})`,
            remediation: `reissue the registry certificate with subjectAltName DNS:${f.registry!.replace(/:\d+$/, '')} (or IP: for an address), or use the name it was issued for in registry.url`,
            facts,
          },
    );
    if (expired) out.push({ id: sub('expiry'), status: 'fail', message: `certificate of ${f.registry} expired on ${t.validTo}`, remediation: 'renew the registry certificate and restart the registry', facts });
    else if (t.expiresInDays !== undefined && t.expiresInDays < warnDays)
      out.push({ id: sub('expiry'), status: 'warn', message: `certificate of ${f.registry} expires in ${t.expiresInDays} days (${t.validTo}; warning below ${warnDays})`, remediation: 'renew the registry certificate before it expires', facts });
    else out.push({ id: sub('expiry'), status: 'pass', message: `certificate valid until ${t.validTo} (${t.expiresInDays} days)`, facts });
    return out;
  },
});

// ------------------------------------------------------------------ api

export interface RegistryApiFacts extends Base {
  caError?: string;
  status?: number;
  challenge?: { scheme: string; realm?: string; service?: string };
  challengeProblem?: string;
  apiVersionHeader?: string;
  failure?: ReturnType<typeof routeFailure>;
}

async function getV2(ctx: ProbeContext, t: RegistryTarget, opts: RouteOptions, headers: Record<string, string> = {}) {
  const url = new URL('/v2/', t.url);
  return await fetchOnHost(ctx.host, url, { timeoutMs: opts.timeoutMs, signal: ctx.signal, headers }, opts);
}

export const registryApi = defineCheck<RegistryApiFacts>({
  id: 'registry.api',
  category: 'registry',
  title: 'Registry API answers',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const { t, base, opts } = await begin(ctx);
    if (!t) return base;
    if (t.ca && !t.ca.ok) return { ...base, caError: t.ca.error };
    try {
      const res = await getV2(ctx, t, opts);
      const c = res.headers['www-authenticate'] ? parseChallenge(res.headers['www-authenticate']) : undefined;
      return {
        ...base,
        status: res.status,
        apiVersionHeader: res.headers['docker-distribution-api-version'],
        challenge: c ? { scheme: c.scheme, realm: c.params.realm, service: c.params.service } : undefined,
        challengeProblem: res.status === 401 ? challengeProblem(c) : undefined,
      };
    } catch (err) {
      return { ...base, failure: routeFailure(err) };
    }
  },
  judge(f): Judgement {
    const early = noRegistry(f);
    if (early) return early;
    const facts = { ...f };
    if (f.caError) return { status: 'fail', message: f.caError, remediation: 'point registry.caFile at a PEM CA certificate', facts };
    const fwdApi = forwardingSkip(f, 'GET /v2/');
    if (fwdApi) return fwdApi;
    if (f.failure) {
      const see = f.failure.stage === 'tls' ? 'registry.tls' : 'registry.tcp';
      return { status: 'fail', message: `GET /v2/ on ${f.registry} failed at the ${f.failure.stage} step: ${f.failure.message}`, remediation: `fix ${see} first`, facts };
    }
    if (f.status === 200) return { status: 'pass', message: `GET /v2/ answers 200 (open registry, ${f.route})`, facts };
    if (f.status === 401 && !f.challengeProblem) {
      return { status: 'pass', message: `GET /v2/ answers 401 with a ${f.challenge!.scheme} challenge${f.challenge!.realm ? ` (realm ${f.challenge!.realm})` : ''}`, facts };
    }
    if (f.status === 401) return { status: 'fail', message: `GET /v2/ answers 401 without a usable challenge: ${f.challengeProblem}`, remediation: 'the registry must send WWW-Authenticate Basic or Bearer (check the registry auth configuration)', facts };
    return {
      status: 'fail',
      message: `GET /v2/ on ${f.registry} answers ${f.status}: not a Docker/OCI registry API${f.status === 404 ? ' (wrong URL or port?)' : ''}`,
      remediation: 'point registry.url at the registry itself (Harbor: https://HARBOR-HOST), not at a UI or another service',
      facts,
    };
  },
});

// ------------------------------------------------------------------ auth

export interface RegistryAuthFacts extends Base {
  username?: string;
  passwordSource?: string;
  credentialError?: string;
  caError?: string;
  anonymousStatus?: number;
  scheme?: string;
  tokenStatus?: number;
  tokenError?: string;
  loginStatus?: number;
  failure?: ReturnType<typeof routeFailure>;
}

export const registryAuth = defineCheck<RegistryAuthFacts>({
  id: 'registry.auth',
  category: 'registry',
  title: 'Registry login works',
  gather: () => NODE_ENV,
  async probe(ctx) {
    const { t, base, opts } = await begin(ctx);
    if (!t) return base;
    if (t.ca && !t.ca.ok) return { ...base, caError: t.ca.error };
    const creds = await registryCredentials(ctx);
    const facts: RegistryAuthFacts = { ...base, username: creds?.username, passwordSource: creds?.source, credentialError: creds?.error };
    try {
      const anon = await getV2(ctx, t, opts);
      facts.anonymousStatus = anon.status;
      if (anon.status !== 401 || !creds || creds.error) return facts;
      const www = anon.headers['www-authenticate'];
      const c = www ? parseChallenge(www) : undefined;
      facts.scheme = c?.scheme;
      if ((c?.scheme === 'basic' || c?.scheme === 'bearer') && !challengeProblem(c)) {
        // The registry client's own login flow (Basic, or the Bearer token service), over this node's route.
        const fetchToken: TokenFetcher = async (url, headers) => fetchOnHost(ctx.host, url, { timeoutMs: opts.timeoutMs, signal: ctx.signal, headers }, opts);
        const auth = new RegistryAuth(t.url.host, { username: creds.username, password: creds.password ?? '' }, fetchToken);
        try {
          const authorization = await auth.challenged(www, '');
          if (c.scheme === 'bearer') facts.tokenStatus = 200;
          if (authorization) facts.loginStatus = (await getV2(ctx, t, opts, { authorization })).status;
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          facts.tokenStatus = err.status;
          if (err.problem) facts.tokenError = err.problem;
        }
      }
    } catch (err) {
      facts.failure = routeFailure(err);
    }
    return facts;
  },
  judge(f): Judgement {
    const early = noRegistry(f);
    if (early) return early;
    const facts = { ...f };
    if (f.caError) return { status: 'fail', message: f.caError, remediation: 'point registry.caFile at a PEM CA certificate', facts };
    const fwdAuth = forwardingSkip(f, 'login');
    if (fwdAuth) return fwdAuth;
    if (f.failure) return { status: 'fail', message: `login not tried: ${f.failure.message}`, remediation: 'fix registry.api first', facts };
    if (f.anonymousStatus === 200) {
      return { status: 'pass', message: `the registry allows anonymous access${f.username ? `; credentials of ${f.username} not needed for /v2/` : ''}`, facts };
    }
    if (!f.username) {
      return { status: 'fail', message: 'the registry requires login but the site file has no registry.username and ~/.docker/config.json has no login for it', remediation: 'set registry.username and registry.passwordEnv (or passwordFile) in the site file, or run docker login / skopeo login for the registry', facts };
    }
    if (f.credentialError) return { status: 'fail', message: f.credentialError, remediation: 'export the variable before running (e.g. read -rs HARBOR_PASSWORD; export HARBOR_PASSWORD) or fix passwordFile', facts };
    if (f.anonymousStatus !== 401) return { status: 'fail', message: `GET /v2/ answered ${f.anonymousStatus}; cannot log in`, remediation: 'fix registry.api first', facts };
    if (f.scheme !== 'basic' && f.scheme !== 'bearer') return { status: 'fail', message: `unsupported auth scheme ${f.scheme ?? '(none)'}`, facts };
    if (f.scheme === 'bearer' && f.tokenStatus !== 200) {
      return {
        status: 'fail',
        message: `token request for ${f.username} was refused (${f.tokenStatus ?? f.tokenError})`,
        remediation: `check the user name and the password in ${f.passwordSource}; for Harbor robot accounts the name includes the prefix (robot$...)`,
        facts,
      };
    }
    if (f.tokenError) return { status: 'fail', message: f.tokenError, facts };
    if (f.loginStatus === 200) return { status: 'pass', message: `login as ${f.username} works (${f.scheme}${f.scheme === 'bearer' ? ' token' : ''}, ${f.route})`, facts };
    return {
      status: 'fail',
      message: `login as ${f.username} rejected: GET /v2/ answered ${f.loginStatus}`,
      remediation: `check the user name and the password in ${f.passwordSource}`,
      facts,
    };
  },
});
