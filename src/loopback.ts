// The one loopback rule (no proxy for it, plain HTTP allowed for a loopback
// registry, as Docker and Go's proxy rules do): localhost and *.localhost,
// 127.0.0.0/8 and ::1. `host` is a bare name or address, brackets allowed.
import { isIP } from 'node:net';

export function isLoopbackName(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}
