// Image references, parsed in one place, the way Docker normalises them:
// `nginx` -> docker.io/library/nginx:latest, `ghcr.io/a/b@sha256:...`,
// `localhost:5000/x:1`, `[::1]:5000/x`.
import { isLoopbackName } from '../loopback.ts';
import { isDigest } from './digest.ts';

export interface ImageReference {
  /** registry host[:port] as written (docker.io for Docker Hub) */
  registry: string;
  /** repository path, e.g. library/nginx */
  repository: string;
  tag?: string;
  /** sha256:<64 hex> */
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API really lives. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::\d{1,5})?$/;

export class ReferenceError extends Error {
  constructor(ref: string, why: string) {
    super(`invalid image reference '${ref}': ${why}`);
    this.name = 'ReferenceError';
  }
}

export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (!ref) throw new ReferenceError(input, 'empty');
  if (/\s/.test(ref)) throw new ReferenceError(input, 'contains whitespace');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new ReferenceError(input, `digest must be sha256: followed by 64 lowercase hex digits`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && !rest.endsWith(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ReferenceError(input, `tag '${tag}' is not valid (letters, digits, _ . -, at most 128)`);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase()) {
      registry = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(registry)) throw new ReferenceError(input, `registry '${registry}' is not a valid host[:port]`);
    }
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (!path) throw new ReferenceError(input, 'no repository name');
  for (const c of path.split('/')) {
    if (!COMPONENT.test(c)) throw new ReferenceError(input, `repository component '${c}' must be lowercase letters, digits and separators (. _ __ -)`);
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (path.length > 255) throw new ReferenceError(input, 'repository name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: path, tag, digest };
}

/** docker.io/library/nginx:1.25, ghcr.io/a/b:1@sha256:..., host/x@sha256:... */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The host the registry API is reached at (Docker Hub's differs from its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Host part without port, brackets removed (for loopback detection). */
export function hostname(registry: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (m) return m[1]!;
  const i = registry.lastIndexOf(':');
  return i >= 0 ? registry.slice(0, i) : registry;
}

/** Whether a registry (host[:port]) is on this machine (the one rule: ../../loopback.ts). */
export function isLoopbackHost(registry: string): boolean {
  return isLoopbackName(hostname(registry));
}
