// Where each image of a bundle lands in the site registry (pure).
//
// By default an image keeps its source registry as the first path component
// under the prefix: docker.io/library/nginx:1.25 -> REGISTRY/PREFIX/docker.io/library/nginx:1.25,
// so images of different registries never share a repository and each source
// registry is one subtree a node's container runtime can mirror onto.
// `--flat` drops the host (REGISTRY/PREFIX/library/nginx); two images that
// would then land on one reference with different content are refused.
import { UsageError } from '../../errors.ts';
import type { RegistryTarget } from './plan.ts';

/** REGISTRY[/PREFIX] as one string. */
export function targetBase(t: RegistryTarget): string {
  return t.prefix ? `${t.host}/${t.prefix}` : t.host;
}

export type TargetLayout = 'by-registry' | 'flat';

/**
 * A registry host as one repository path component. Host names are
 * case-insensitive, so lower-cased; ':PORT' becomes '_PORT' ('_' never occurs
 * in a host name, so no two hosts share a component); an IPv6 literal is
 * written out in full (eight groups), its ':' as '__':
 *   docker.io -> docker.io, Harbor.Lab:5000 -> harbor.lab_5000,
 *   [::1]:5000 -> 0__0__0__0__0__0__0__1_5000
 */
export function hostComponent(host: string): string {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(host);
  if (m) return `${expandIpv6(m[1]!).join('__')}${m[2] ? `_${m[2]}` : ''}`;
  const colon = host.lastIndexOf(':');
  const name = (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
  return colon === -1 ? name : `${name}_${host.slice(colon + 1)}`;
}

function expandIpv6(addr: string): string[] {
  const lower = addr.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(lower);
  const text = v4 ? lower.slice(0, v4.index) + [((+v4[1]! << 8) | +v4[2]!).toString(16), ((+v4[3]! << 8) | +v4[4]!).toString(16)].join(':') : lower;
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...middle, ...right].map((g) => (parseInt(g, 16) || 0).toString(16));
}

/** The repository path (under the registry host) an image lands in. */
export function imageRepository(t: RegistryTarget, sourceRegistry: string, sourceRepository: string, layout: TargetLayout): string {
  const path = layout === 'flat' ? sourceRepository : `${hostComponent(sourceRegistry)}/${sourceRepository}`;
  return t.prefix ? `${t.prefix}/${path}` : path;
}

/** The site path a whole source registry is mirrored onto: REGISTRY/PREFIX[/<host component>]. */
export function registryMirrorPath(t: RegistryTarget, sourceRegistry: string, layout: TargetLayout): string {
  return layout === 'flat' ? targetBase(t) : `${targetBase(t)}/${hostComponent(sourceRegistry)}`;
}

export interface PlannedTarget {
  /** what lands there: an image reference, or 'chart NAME VERSION' */
  what: string;
  repository: string;
  /** tag, or the digest for a by-digest reference */
  reference: string;
  digest: string;
}

/**
 * Targets two different contents would share (same repository and tag, or a
 * chart's repository taken by an image), each as [first, second]. Same
 * repository and tag with the same digest is not a collision: the same bytes
 * land once.
 */
export function targetCollisions(targets: PlannedTarget[]): Array<[PlannedTarget, PlannedTarget]> {
  const byRef = new Map<string, PlannedTarget>();
  const out: Array<[PlannedTarget, PlannedTarget]> = [];
  for (const t of targets) {
    const key = `${t.repository}:${t.reference}`;
    const first = byRef.get(key);
    if (!first) byRef.set(key, t);
    else if (first.digest !== t.digest) out.push([first, t]);
  }
  return out;
}

/** Throws a UsageError naming every pair of images (or an image and a chart) that would land on one target. */
export function refuseCollisions(t: RegistryTarget, targets: PlannedTarget[], layout: TargetLayout): void {
  const pairs = targetCollisions(targets);
  if (!pairs.length) return;
  const lines = pairs.map(([a, b]) => `  - ${a.what} and ${b.what} would both land on ${t.host}/${a.repository}${a.reference.startsWith('sha256:') ? '@' : ':'}${a.reference} (${a.digest} vs ${b.digest})`);
  const why = layout === 'flat' ? '--flat drops the source registry from the target' : 'a chart and an image share a repository';
  throw new UsageError(`bundle install: ${pairs.length} target${pairs.length === 1 ? '' : 's'} would be shared by different content (${why}); nothing was pushed or written:\n${lines.join('\n')}\nInstall without --flat (each source registry gets its own path), or use another --registry prefix.`);
}
