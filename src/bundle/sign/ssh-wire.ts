// The SSH wire encoding (RFC 4251 §5) that SSHSIG blobs are made of: uint32,
// length-prefixed strings and mpints. Pure; a short or over-long field throws
// a SshWireError naming the field.

export class SshWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshWireError';
  }
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([u32(b.length), b]);
}

/** An unsigned big-endian integer as an SSH mpint (leading zeros dropped, a 0x00 added when the top bit is set). */
export function sshMpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  let v = unsigned.subarray(i);
  if (v.length && v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return sshString(v);
}

/** Reads fields in order from one buffer. */
export class SshReader {
  private pos = 0;
  private readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }

  uint32(what: string): number {
    if (this.pos + 4 > this.buf.length) throw new SshWireError(`${what}: truncated`);
    const n = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  bytes(n: number, what: string): Buffer {
    if (this.pos + n > this.buf.length) throw new SshWireError(`${what}: truncated`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  string(what: string): Buffer {
    return this.bytes(this.uint32(what), what);
  }

  text(what: string): string {
    return this.string(what).toString('utf8');
  }

  /** An mpint as unsigned big-endian bytes, left-padded to `width` bytes. */
  mpint(width: number, what: string): Buffer {
    let v = this.string(what);
    while (v.length > width && v[0] === 0) v = v.subarray(1);
    if (v.length > width) throw new SshWireError(`${what}: longer than ${width} bytes`);
    return Buffer.concat([Buffer.alloc(width - v.length), v]);
  }

  /** bytes not read yet */
  left(): number {
    return this.buf.length - this.pos;
  }

  end(what: string): void {
    if (this.pos !== this.buf.length) throw new SshWireError(`${what}: ${this.buf.length - this.pos} trailing bytes`);
  }
}
