// JSON.parse of a manifest without holding the caller's thread for the whole
// text (a 100,000-file manifest is ~25 MB: ~120 ms in one call, and the
// garbage collector after it). Our serializer writes a header line, then one
// list item per line (format/manifest.ts, manifestPieces); text in exactly
// that layout is parsed a line at a time with turns of the event loop
// between, each line by JSON.parse itself. Anything else (hand-made,
// reformatted or hostile text) goes to JSON.parse whole, so the result, or
// the error, is always JSON.parse's.
import { yieldIfDue } from '../util/timeSlice';

const LIST_OPEN = /^("(?:[^"\\\u0000-\u001f]|\\.)*"):\[$/;
const TRAILING_SPACE = /^[ \t\n\r]*$/;

/** The same value as JSON.parse(text); throws what JSON.parse throws. */
export async function parseManifestJson(text: string): Promise<unknown> {
  const lines = await byLines(text).catch(() => undefined);
  return lines !== undefined ? lines.value : JSON.parse(text);
}

async function byLines(text: string): Promise<{ value: unknown } | undefined> {
  // The text is reached through `src` only, and dropped from it at the end:
  // V8 may embed a closure's context values in the code it optimizes for the
  // loop below, and that code outlives the call (a 100,000-file manifest's
  // 27 MiB of text stayed reachable after its restore until the function was
  // compiled again).
  const src = { text, pos: 0 };
  try {
    return await linesOf(src);
  } finally {
    src.text = '';
  }
}

async function linesOf(src: { text: string; pos: number }): Promise<{ value: unknown } | undefined> {
  const next = (): string | undefined => {
    const nl = src.text.indexOf('\n', src.pos);
    if (nl < 0) return undefined;
    const line = src.text.slice(src.pos, nl);
    src.pos = nl + 1;
    return line;
  };
  const first = next();
  if (first === undefined || !first.endsWith(',')) return undefined;
  const head = JSON.parse(`${first.slice(0, -1)}}`) as unknown;
  // `{,` is not JSON: the comma needs a member before it.
  if (typeof head !== 'object' || head === null || Array.isArray(head) || Object.keys(head).length === 0) return undefined;
  const out = head as Record<string, unknown>;
  for (;;) {
    const open = LIST_OPEN.exec(next() ?? '');
    if (!open) return undefined;
    const name = JSON.parse(open[1]) as string;
    const items: unknown[] = [];
    let line = next();
    if (line === '') {
      line = next();
    } else {
      for (;;) {
        if (line === undefined) return undefined;
        if (items.length % 512 === 511) await yieldIfDue();
        const more = line.endsWith(',');
        items.push(JSON.parse(more ? line.slice(0, -1) : line));
        line = next();
        if (!more) break;
      }
    }
    // As JSON.parse does: an own property even for "__proto__", a repeated key keeps its place and takes the new value.
    Object.defineProperty(out, name, { value: items, enumerable: true, writable: true, configurable: true });
    if (line === '],') continue;
    if (line === ']}' && TRAILING_SPACE.test(src.text.slice(src.pos))) return { value: out };
    return undefined;
  }
}
