// A tiny authoritative DNS responder on UDP (node:dgram) for tests: A records
// from a map, NXDOMAIN for everything else, every query counted. Run it in a
// test's own network namespace as a script:
//   ip netns exec NS node test/support/dns-server.ts 127.0.0.1 53 name=10.201.1.2 ...
// or in-process with startDnsServer().
import { createSocket, type Socket } from 'node:dgram';

export interface DnsServer {
  port: number;
  queries: string[];
  close(): Promise<void>;
}

function readName(msg: Buffer, off: number): { name: string; end: number } {
  const labels: string[] = [];
  while (off < msg.length && msg[off]! !== 0) {
    const len = msg[off]!;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += len + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: off + 1 };
}

/** Builds the answer to one query message; undefined for anything that is not a standard query. */
export function answer(query: Buffer, records: Record<string, string>): { reply: Buffer; name: string } | undefined {
  if (query.length < 17 || (query[2]! & 0x80) !== 0) return undefined;
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const ip = records[name];
  const withA = ip !== undefined && qtype === 1;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  header[2] = 0x84 | (query[2]! & 0x01); // QR, AA, RD copied
  header[3] = ip === undefined ? 0x03 : 0x00; // NXDOMAIN or NOERROR (no data for other types)
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(withA ? 1 : 0, 6);
  const parts = [header, question];
  if (withA) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((b, i) => (rr[12 + i] = Number(b)));
    parts.push(rr);
  }
  return { reply: Buffer.concat(parts), name };
}

export async function startDnsServer(host: string, port: number, records: Record<string, string>): Promise<DnsServer> {
  const sock: Socket = createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    const a = answer(msg, records);
    if (!a) return;
    queries.push(a.name);
    sock.send(a.reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => resolve());
  });
  return { port: sock.address().port, queries, close: () => new Promise((r) => sock.close(() => r())) };
}

if (import.meta.main) {
  const [host = '127.0.0.1', port = '53', ...pairs] = process.argv.slice(2);
  const records = Object.fromEntries(pairs.map((p) => p.split('=') as [string, string]));
  const srv = await startDnsServer(host, Number(port), records);
  // Tell the parent we listen (UDP has no connect to wait for).
  process.stdout.write(`listening ${srv.port}\n`);
  process.on('SIGTERM', () => void srv.close().then(() => process.exit(0)));
}
