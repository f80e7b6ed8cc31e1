// The one reading of a whole number from the outside, for the server's
// environment and the load generator's and benchmark's flags alike, so that
// `HEARTBEAT_MS=15_000` and `--heartbeat-ms 15_000` mean the same: digits,
// with `_` allowed between them as in a JavaScript literal, and nothing else
// (no sign, no exponent, no fraction).
import { ConfigError } from '../errors.js';

/** `raw` as a whole number within [min, max]; `fallback` when it is absent. `name` is the variable or flag, for the error. */
export function wholeNumber(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const text = raw.trim();
  const expected = `a whole number from ${min} to ${max}`;
  if (!/^\d+(_\d+)*$/.test(text)) throw new ConfigError(name, raw, expected);
  const value = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ConfigError(name, raw, expected);
  return value;
}
