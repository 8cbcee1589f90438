// Shell quoting for commands sent to a node (SSH runs everything through the login shell).

/** Single-quotes a word for a POSIX shell. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
