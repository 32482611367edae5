export interface ByteUnits {
  /** Names for bytes, then 1024^1 .. 1024^4. */
  names: readonly [string, string, string, string, string];
  /** Formats a number with at most `digits` decimals (the face passes a localized one). */
  number(value: number, digits: number): string;
  /** Joins a formatted number and a unit name (the face passes a translated pattern). */
  join?(number: string, unit: string): string;
}

/** The CLI's and the engine's units: binary multiples with their IEC names. */
export const IEC_UNITS: ByteUnits = {
  names: ['B', 'KiB', 'MiB', 'GiB', 'TiB'],
  number: (v, digits) => (digits === 0 ? String(Math.round(v)) : v.toFixed(digits)),
};

/**
 * A byte count for people, in binary multiples: "812 B", "1.2 KiB", "48.8 MiB".
 * One decimal below 100 of a unit, none above (two for GiB and up below 10).
 * The one formatter for every front end: the face hands in its localized
 * number format and unit names.
 */
export function formatBytes(n: number, units: ByteUnits = IEC_UNITS): string {
  const join = units.join ?? ((num: string, unit: string) => `${num} ${unit}`);
  if (!Number.isFinite(n) || n < 1024) return join(units.number(Math.max(0, Number.isFinite(n) ? n : 0), 0), units.names[0]);
  let v = n / 1024;
  let i = 1;
  while (v >= 1024 && i < units.names.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 100 ? 0 : i >= 3 && v < 10 ? 2 : 1;
  return join(units.number(v, digits), units.names[i]);
}
