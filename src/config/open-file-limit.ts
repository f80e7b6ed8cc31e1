// Node has no getrlimit(); on Linux the soft limit is in /proc/self/limits.
// Every held SSE connection is one file descriptor, so this limit, not memory,
// is what caps a single process.
import { readFileSync } from 'node:fs';

const FALLBACK = 1024;

export function openFileLimit(): number {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
    if (match?.[1] === undefined) return FALLBACK;
    return match[1] === 'unlimited' ? 1_048_576 : Number(match[1]);
  } catch {
    return FALLBACK;
  }
}
