// One inline SVG symbol per status, drawn by shape as well as by colour, so a
// cell reads printed in grey and for colour-blind readers.
import type { Status } from '../../schema/common.ts';
import { html, raw, type Html } from './escape.ts';

const SHAPES: Record<Status, string> = {
  // a check mark
  pass: '<path d="M3 8.5l3.2 3.2L13 4.8" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/>',
  // a triangle with an exclamation mark
  warn: '<path d="M8 1.8L15 14.2H1Z" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round"/><path d="M8 6v4" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><circle cx="8" cy="12.2" r="1" fill="currentColor"/>',
  // a cross
  fail: '<path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/>',
  // a double chevron: passed over
  skip: '<path d="M3 4l4 4-4 4M9 4l4 4-4 4" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
  // a ringed exclamation mark: the check itself could not run
  error: '<circle cx="8" cy="8" r="6.3" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M8 4.4v4.6" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><circle cx="8" cy="11.6" r="1" fill="currentColor"/>',
};

/** The hidden SVG that defines every symbol once; icons refer to it by fragment (no request). */
export function iconDefs(): Html {
  const symbols = (Object.keys(SHAPES) as Status[]).map((s) => `<symbol id="s-${s}" viewBox="0 0 16 16">${SHAPES[s]}</symbol>`).join('');
  return raw(`<svg class="defs" aria-hidden="true" focusable="false">${symbols}</svg>`);
}

/** A status symbol; with a label, its accessible name and tooltip; without, a decoration beside text that says the same. */
export function icon(status: Status, label?: string): Html {
  if (label === undefined) return raw(`<svg class="i" aria-hidden="true"><use href="#s-${status}"/></svg>`);
  return html`<svg class="i" role="img" aria-label="${label}"><title>${label}</title><use href="#s-${status}"/></svg>`;
}
