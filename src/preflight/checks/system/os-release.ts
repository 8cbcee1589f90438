// os.release: the distribution and version (/etc/os-release) against the
// profile's supported list. A listed version "8" accepts "8", "8.9", "8.10".
import type { Profile } from '../../../schema/profile.ts';
import { defineCheck, type Host, type Judgement } from '../../types.ts';

export interface OsReleaseFacts {
  found: boolean;
  id?: string;
  idLike?: string[];
  versionId?: string;
  prettyName?: string;
}

/** KEY=value lines, values optionally quoted (os-release(5)). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!.trim();
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["$`\\])/g, '$1');
    out[m[1]!] = v;
  }
  return out;
}

export function versionMatches(listed: string, actual: string): boolean {
  return actual === listed || actual.startsWith(listed + '.');
}

function supportedList(profile: Profile): string {
  return profile.os.supported.map((s) => `${s.name ?? s.id} ${s.versions.join('/')}`).join(', ');
}

export function judgeOsRelease(f: OsReleaseFacts, profile: Profile): Judgement {
  const facts = { ...f, supported: profile.os.supported.map((s) => ({ id: s.id, versions: s.versions })) };
  const pinProfile = (id: string, ver: string) =>
    `use a supported OS (${supportedList(profile)}), or accept this one in a copy of the profile (astrago-check profile > my-profile.yaml): add {id: ${id}, versions: ["${ver}"]} under os.supported and run with --profile my-profile.yaml`;
  if (!f.found || !f.id) {
    return { status: 'warn', message: 'cannot tell the distribution: /etc/os-release is missing or has no ID', facts, remediation: 'cat /etc/os-release  # the file must name ID and VERSION_ID' };
  }
  const name = f.prettyName ?? `${f.id} ${f.versionId ?? ''}`.trim();
  const entry = profile.os.supported.find((s) => s.id === f.id);
  if (!entry) {
    const like = f.idLike?.find((l) => profile.os.supported.some((s) => s.id === l));
    const hint = like ? ` (it is like ${like}, which is supported)` : '';
    return { status: 'fail', message: `${name} is not a supported OS${hint}`, facts, remediation: pinProfile(f.id, f.versionId ?? '') };
  }
  const ver = f.versionId ?? '';
  if (entry.versions.some((v) => versionMatches(v, ver))) {
    return { status: 'pass', message: `${name} is supported`, facts };
  }
  return {
    status: 'fail',
    message: `${name}: version ${ver || '(none)'} is not supported (supported: ${entry.versions.join(', ')})`,
    facts,
    remediation: pinProfile(f.id, ver),
  };
}

/** /etc/os-release (or /usr/lib/os-release) of a node. */
export async function readOsRelease(host: Host, signal: AbortSignal): Promise<OsReleaseFacts> {
  const text = (await host.readFile('/etc/os-release', { signal })) ?? (await host.readFile('/usr/lib/os-release', { signal }));
  if (text === null) return { found: false };
  const kv = parseOsRelease(text);
  return {
    found: true,
    id: kv.ID?.toLowerCase(),
    idLike: kv.ID_LIKE ? kv.ID_LIKE.toLowerCase().split(/\s+/) : undefined,
    versionId: kv.VERSION_ID,
    prettyName: kv.PRETTY_NAME,
  };
}

export const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'];

export const osReleaseCheck = defineCheck<OsReleaseFacts>({
  id: 'os.release',
  category: 'os',
  title: 'Supported operating system',
  gather: () => ({ files: OS_RELEASE_FILES }),
  probe: ({ host, signal }) => readOsRelease(host, signal),
  judge: (f, ctx) => judgeOsRelease(f, ctx.profile),
});
