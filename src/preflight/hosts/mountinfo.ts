// Filesystem type of a path, from /proc/self/mountinfo (the longest mount
// point that contains the path), with statfs magic numbers as a fallback.
// Pure text parsing, so an SSH host can feed it the remote file.

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

// mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 2) continue;
    out.push({ mountPoint: unescapeOctal(left[4]!), fsType: right[0]!, source: unescapeOctal(right[1]!) });
  }
  return out;
}

/** The mount holding `path` (absolute, symlinks resolved); the last one mounted wins on ties. */
export function mountFor(entries: MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const e of entries) {
    const mp = e.mountPoint;
    const inside = mp === '/' || path === mp || path.startsWith(mp.endsWith('/') ? mp : mp + '/');
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

// statfs f_type magic numbers (linux/magic.h) for the filesystems a node is likely to have.
const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x2fc12fc1: 'zfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlay',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0x65735546: 'fuse',
  0x858458f6: 'ramfs',
  0x5346544e: 'ntfs',
  0x4d44: 'vfat',
  0xf2f52010: 'f2fs',
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
};

export function fsTypeFromMagic(type: number): string {
  return FS_MAGIC[type >>> 0] ?? `0x${(type >>> 0).toString(16)}`;
}
