// Where a bundle's signature lives (apart from the signing code, which loads ssh2).

/** The signature of NAME.tar (split or not) is NAME.tar.sig. */
export function signatureFileFor(tarName: string): string {
  return `${tarName}.sig`;
}
