// Where a node's proxy settings come from: the site file, and the environment
// the node's tools see (this tool's own env locally, `env` over SSH).
import type { Gather, JudgeContext, ProbeContext } from '../../types.ts';
import { effectiveProxy, proxyFromEnv, redactProxyUrl, type ProxySettings } from '../../net/proxy.ts';
import { splitNoProxy } from '../../net/no-proxy.ts';
import { run } from '../kernel/host-io.ts';

export interface ProxyVars {
  http?: string;
  https?: string;
  noProxy?: string[];
}

/** What nodeProxyEnv reads over SSH (for a check's gather). */
const ENV_ARGV = ['env'];
export const NODE_ENV: Gather = { commands: [ENV_ARGV] };

/** Proxy variables in the node's environment (passwords masked), or null when unknown. */
export async function nodeProxyEnv(ctx: ProbeContext): Promise<{ vars: ProxyVars; raw: Record<string, string | undefined>; source: string } | null> {
  let env: Record<string, string | undefined>;
  let source: string;
  if (ctx.host.kind === 'local') {
    env = ctx.env;
    source = 'environment of astrago-check';
  } else {
    const r = await run(ctx, ENV_ARGV);
    if (!r || r.code !== 0) return null;
    env = {};
    for (const line of r.stdout.split('\n')) {
      const m = /^([A-Za-z_]+_proxy)=(.*)$/i.exec(line);
      if (m) env[m[1]!] = m[2];
    }
    source = `environment of the SSH session on ${ctx.node.name}`;
  }
  const e = proxyFromEnv(env);
  return { vars: displayVars({ http: e.http, https: e.https, noProxy: e.noProxy ? splitNoProxy(e.noProxy) : undefined }), raw: { http: e.http, https: e.https, noProxy: e.noProxy }, source };
}

export function displayVars(v: ProxyVars): ProxyVars {
  return {
    ...(v.http ? { http: redactProxyUrl(v.http) } : {}),
    ...(v.https ? { https: redactProxyUrl(v.https) } : {}),
    ...(v.noProxy ? { noProxy: v.noProxy } : {}),
  };
}

export function siteProxyVars(ctx: JudgeContext): ProxyVars | undefined {
  const p = ctx.site?.network?.proxy;
  if (!p || (!p.http && !p.https)) return undefined;
  return displayVars({ http: p.http, https: p.https, noProxy: p.noProxy ?? [] });
}

/** The proxy password the site points at (never put into facts). */
export function proxyPassword(ctx: ProbeContext): string | undefined {
  const name = ctx.site?.network?.proxy?.passwordEnv;
  return name ? ctx.env[name] : undefined;
}

/** What requests from this node go through: the site's proxy, else the node environment's. */
export async function nodeProxySettings(ctx: ProbeContext): Promise<ProxySettings> {
  const site = ctx.site?.network?.proxy;
  if (site && (site.http || site.https)) return effectiveProxy(site, {}, proxyPassword(ctx));
  const env = await nodeProxyEnv(ctx);
  return effectiveProxy(undefined, env?.raw ? { http_proxy: env.raw.http, https_proxy: env.raw.https, no_proxy: env.raw.noProxy } : {});
}
