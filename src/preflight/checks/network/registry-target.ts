// The site's registry as the checks use it: its URL, the CA bundle it names,
// and its credentials (read here, never put into facts).
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { ProbeContext } from '../../types.ts';
import { parseCaBundle, type CaBundle } from '../../net/ca.ts';
import { dockerConfigCredentials } from '../../../oci/registry/auth.ts';
import { expandHome } from '../../hosts/known-hosts.ts';

/** "harbor.acme.local", "harbor:5443", "https://harbor.acme.local/prefix" -> URL; an error text when malformed. */
export function parseRegistryUrl(raw: string, insecure?: boolean): { url: URL } | { error: string } {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `${insecure ? 'http' : 'https'}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { error: `registry.url '${raw}' is not a valid address (expected https://HOST[:PORT])` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: `registry.url '${raw}': scheme ${url.protocol} is not http or https` };
  if (!url.hostname) return { error: `registry.url '${raw}' has no host` };
  if (url.username || url.password) return { error: `registry.url must not carry credentials (use registry.username and passwordEnv/passwordFile)` };
  return { url };
}

export function siteFilePath(p: string, siteDir: string | undefined): string {
  const home = expandHome(p);
  return isAbsolute(home) ? home : resolve(siteDir ?? process.cwd(), home);
}

export interface RegistryTarget {
  url: URL;
  insecure: boolean;
  caFile?: string;
  ca?: CaBundle;
}

/** The registry, or why it cannot be checked (no registry / malformed URL). CA files are read on this machine. */
export async function registryTarget(ctx: ProbeContext): Promise<RegistryTarget | { error: string } | null> {
  const reg = ctx.site?.registry;
  if (!reg) return null;
  const parsed = parseRegistryUrl(reg.url, reg.insecure);
  if ('error' in parsed) return parsed;
  const t: RegistryTarget = { url: parsed.url, insecure: reg.insecure ?? false };
  if (reg.caFile) {
    t.caFile = siteFilePath(reg.caFile, ctx.siteDir);
    try {
      t.ca = parseCaBundle(await readFile(t.caFile, 'utf8'), reg.caFile);
    } catch (err) {
      t.ca = { ok: false, error: `CA file ${reg.caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
  }
  return t;
}

export interface Credentials {
  username: string;
  password?: string;
  /** Where the password comes from, for messages ("env HARBOR_PASSWORD"). */
  source: string;
  error?: string;
}

/** Credentials `docker login` (or skopeo, crane) stored for host[:port] in the docker config of this machine. */
async function dockerLogin(ctx: ProbeContext, host: string): Promise<Credentials | null> {
  const file = join(ctx.env.DOCKER_CONFIG ?? join(ctx.env.HOME ?? homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const c = dockerConfigCredentials(text, host, file);
    return c ? { username: c.username, password: c.password, source: `docker config ${file}` } : null;
  } catch (err) {
    return { username: '?', source: `docker config ${file}`, error: (err as Error).message };
  }
}

export async function registryCredentials(ctx: ProbeContext): Promise<Credentials | null> {
  const reg = ctx.site?.registry;
  if (!reg) return null;
  if (!reg.username) {
    const parsed = parseRegistryUrl(reg.url, reg.insecure);
    return 'url' in parsed ? await dockerLogin(ctx, parsed.url.host) : null;
  }
  if (reg.passwordEnv) {
    const v = ctx.env[reg.passwordEnv];
    return v ? { username: reg.username, password: v, source: `environment variable ${reg.passwordEnv}` } : { username: reg.username, source: `environment variable ${reg.passwordEnv}`, error: `environment variable ${reg.passwordEnv} (registry.passwordEnv) is not set` };
  }
  if (reg.passwordFile) {
    try {
      const v = (await readFile(siteFilePath(reg.passwordFile, ctx.siteDir), 'utf8')).replace(/\r?\n$/, '');
      return { username: reg.username, password: v, source: `file ${reg.passwordFile}` };
    } catch (err) {
      return { username: reg.username, source: `file ${reg.passwordFile}`, error: `registry.passwordFile ${reg.passwordFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
  }
  return { username: reg.username, source: 'none', error: 'registry.username is set but neither passwordEnv nor passwordFile' };
}
