// Names from archives and buckets are printed to terminals and logs. A name
// holding a carriage return, an escape sequence, a line separator or a
// right-to-left override could rewrite or hide the lines printed before a
// question (a plan line, a "[y/N]" prompt): such characters are shown as
// \uXXXX escapes instead.

// C0 controls, DEL, C1 controls, zero-width characters, bidirectional
// controls, line and paragraph separators, and the byte-order mark.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// The same without tab and line feed: for whole lines that are ours.
const INVISIBLE_IN_LINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Makes a name safe to print in one line: control and invisible characters become `\uXXXX`. */
export function printable(s: string): string {
  return s.replace(INVISIBLE, escape);
}

/**
 * A line (or lines) of output made safe for a terminal: like `printable`,
 * but tabs and line feeds stay, since the caller wrote them. Names inside
 * the text must already have gone through `printable`.
 */
export function printableLines(s: string): string {
  return s.replace(INVISIBLE_IN_LINE, escape);
}
