// JSON.parse of a manifest without holding the caller's thread for the whole
// text (a 100,000-file manifest is ~25 MB: ~120 ms in one call, and the
// garbage collector after it), and without the whole text at all when it
// comes in pieces (a gzip'd manifest, inflated a chunk at a time: the 27 MiB
// string and the parsed entries were both alive at the restore's peak). Our
// serializer writes a header line, then one list item per line
// (format/manifest.ts, manifestPieces); text in exactly that layout is
// parsed a line at a time, each line by JSON.parse itself. Anything else
// (hand-made, reformatted or hostile text) is not ours: the caller then
// gives the whole text to JSON.parse, so the result, or the error, is
// always JSON.parse's.
import { yieldIfDue } from '../util/timeSlice';

const LIST_OPEN = /^("(?:[^"\\\u0000-\u001f]|\\.)*"):\[$/;
const TRAILING_SPACE = /^[ \t\n\r]*$/;
// Characters handed to the line parser between turns of the event loop.
const SLICE_CHARS = 256 * 1024;

/** The same value as JSON.parse(text); throws what JSON.parse throws. */
export async function parseManifestJson(text: string): Promise<unknown> {
  const lines = new ManifestLines();
  for (let i = 0; i < text.length && !lines.failed; i += SLICE_CHARS) {
    lines.push(text.slice(i, i + SLICE_CHARS));
    await yieldIfDue();
  }
  const parsed = lines.end();
  return parsed !== undefined ? parsed.value : JSON.parse(text);
}

type State = 'head' | 'list' | 'first' | 'item' | 'close' | 'end';

/**
 * The line-by-line parser of our layout, fed the text in pieces of any size.
 * `end()` gives the value when the whole text was in the layout (then it is
 * JSON.parse's value of the text), or undefined when it was not.
 */
export class ManifestLines {
  private state: State = 'head';
  private rest = '';
  private out: Record<string, unknown> | undefined;
  private name = '';
  private items: unknown[] = [];
  private bad = false;

  /** True once the text is known not to be in the layout (more pieces change nothing). */
  get failed(): boolean {
    return this.bad;
  }

  push(piece: string): void {
    if (this.bad) return;
    let from = 0;
    if (this.rest !== '') {
      // A line split between pieces: only its own characters are joined.
      const nl = piece.indexOf('\n');
      if (nl < 0) {
        this.rest += piece;
        return;
      }
      this.line(this.rest + piece.slice(0, nl));
      this.rest = '';
      from = nl + 1;
    }
    for (;;) {
      if (this.bad) return;
      const nl = piece.indexOf('\n', from);
      if (nl < 0) break;
      this.line(piece.slice(from, nl));
      from = nl + 1;
    }
    this.rest = piece.slice(from);
  }

  end(): { value: unknown } | undefined {
    // What follows the last newline is only ever trailing space.
    if (this.bad || this.state !== 'end' || !TRAILING_SPACE.test(this.rest)) return undefined;
    const out = this.out!;
    this.out = undefined;
    return { value: out };
  }

  private line(line: string): void {
    try {
      this.step(line);
    } catch {
      this.fail();
    }
  }

  private fail(): void {
    this.bad = true;
    this.out = undefined;
    this.items = [];
  }

  private step(line: string): void {
    switch (this.state) {
      case 'head': {
        if (!line.endsWith(',')) return this.fail();
        const head = JSON.parse(`${line.slice(0, -1)}}`) as unknown;
        // `{,` is not JSON: the comma needs a member before it.
        if (typeof head !== 'object' || head === null || Array.isArray(head) || Object.keys(head).length === 0) return this.fail();
        this.out = head as Record<string, unknown>;
        this.state = 'list';
        return;
      }
      case 'list': {
        const open = LIST_OPEN.exec(line);
        if (!open) return this.fail();
        this.name = JSON.parse(open[1]) as string;
        this.items = [];
        this.state = 'first';
        return;
      }
      case 'first':
        // An empty list is an empty line between `"name":[` and its end.
        if (line === '') {
          this.state = 'close';
          return;
        }
        this.item(line);
        return;
      case 'item':
        this.item(line);
        return;
      case 'close': {
        // As JSON.parse does: an own property even for "__proto__", a repeated key keeps its place and takes the new value.
        Object.defineProperty(this.out, this.name, { value: this.items, enumerable: true, writable: true, configurable: true });
        this.items = [];
        if (line === '],') this.state = 'list';
        else if (line === ']}') this.state = 'end';
        else this.fail();
        return;
      }
      case 'end':
        if (!TRAILING_SPACE.test(line)) this.fail();
        return;
    }
  }

  private item(line: string): void {
    const more = line.endsWith(',');
    this.items.push(JSON.parse(more ? line.slice(0, -1) : line));
    this.state = more ? 'item' : 'close';
  }
}
