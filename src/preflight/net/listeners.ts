// Listening sockets from /proc/net/{tcp,tcp6,udp,udp6}, and their owners from
// /proc/*/fd socket inodes (root) or `ss -ltnup` (own processes otherwise).

export interface Listener {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  inode: string;
}

export interface SocketOwner {
  pid: number;
  name: string;
}

function hexToIp(hex: string): string {
  if (hex.length === 8) {
    // IPv4 in host (little-endian) byte order.
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  }
  // IPv6: four little-endian 32-bit words.
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const chunk = hex.slice(w * 8, w * 8 + 8);
    const bytes = [3, 2, 1, 0].map((i) => chunk.slice(i * 2, i * 2 + 2));
    words.push(bytes[0]! + bytes[1]!, bytes[2]! + bytes[3]!);
  }
  // The URL parser writes the canonical compressed form ("::", "::ffff:7f00:1").
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

/** Parses one /proc/net/{tcp,udp}[6] table: TCP sockets in LISTEN (0A), UDP sockets bound (07). */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    const state = f[3];
    if (protocol === 'tcp' && state !== '0A') continue;
    if (protocol === 'udp' && state !== '07') continue;
    out.push({ protocol, address: hexToIp(addrHex!), port: parseInt(portHex!, 16), inode: f[9]! });
  }
  return out;
}

/** `find /proc/[0-9]*\/fd -lname 'socket:*' -printf '%h %l\n'` -> inode -> pid. */
export function parseFdScan(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\/proc\/(\d+)\/fd socket:\[(\d+)\]$/.exec(line.trim());
    if (m && !map.has(m[2]!)) map.set(m[2]!, Number(m[1]));
  }
  return map;
}

/** `ss -Hltnup` / `ss -ltnup` lines -> "proto:port" -> owner. */
export function parseSs(text: string): Map<string, SocketOwner> {
  const map = new Map<string, SocketOwner>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^(tcp|udp)$/.test(f[0]!)) continue;
    const local = f[4]!;
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    const u = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    if (u && Number.isFinite(port)) map.set(`${f[0]}:${port}`, { name: u[1]!, pid: Number(u[2]) });
  }
  return map;
}
