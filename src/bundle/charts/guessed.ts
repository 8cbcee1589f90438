// A tag the values walk guessed from a chart's appVersion (no helm) may not exist: charts often
// write `v{{ .Chart.AppVersion }}` (or strip the v). bundle create tries the guess, then the other
// spelling; what it carries, or that it carries nothing, is a warning either way.
import { errorMessage } from '../../errors.ts';
import { formatReference, type ImageReference } from '../../oci/reference.ts';

export interface GuessOutcome<T> {
  plan?: T;
  /** the reference carried (the guess, or its other spelling) */
  name: string;
  warning?: string;
}

export async function planGuessed<T>(reference: ImageReference, ref: string, plan: (r: ImageReference, name: string) => Promise<T>): Promise<GuessOutcome<T>> {
  try {
    return { plan: await plan(reference, ref), name: ref };
  } catch (err) {
    const tag = reference.tag ?? '';
    const other: ImageReference = { ...reference, tag: tag.startsWith('v') ? tag.slice(1) : `v${tag}` };
    const otherName = formatReference(other);
    try {
      const p = await plan(other, otherName);
      return { plan: p, name: otherName, warning: `${ref}: tag guessed from the chart's appVersion (no helm) not found; carried ${otherName} instead; helm gives the exact tag` };
    } catch {
      return { name: ref, warning: `${ref}: tag guessed from the chart's appVersion (no helm), not found: ${errorMessage(err)} (nor ${otherName}); not carried; helm gives the exact tag` };
    }
  }
}
