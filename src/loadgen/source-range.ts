// Source addresses for the client sockets. A client socket that binds to an
// address with port 0 gets an ephemeral port unique to that address, so one
// source address holds at most as many connections as the ephemeral range has
// ports (about 28,000 by default: /proc/sys/net/ipv4/ip_local_port_range).
// Spreading connections over many source addresses (on loopback, anything in
// 127.0.0.0/8) is how one client machine holds more than that.
import { isIP, isIPv4 } from 'node:net';
import { readFileSync } from 'node:fs';

/** A bound on the list, so a typo such as 10.0.0.1-10.9.0.1 fails instead of allocating millions of strings. */
export const MAX_SOURCES = 65_536;

export class SourceRangeError extends Error {
  constructor(readonly input: string, reason: string) {
    super(reason);
    this.name = 'SourceRangeError';
  }
}

function ipv4ToNumber(text: string): number {
  const parts = text.split('.').map(Number);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function numberToIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function expandRange(item: string, from: string, to: string): string[] {
  if (!isIPv4(from)) throw new SourceRangeError(item, `${JSON.stringify(from)} is not an IPv4 address`);
  // The short form 127.0.1.1-250 repeats the first address's leading octets.
  const last = /^\d{1,3}$/.test(to) ? from.split('.').slice(0, 3).concat(to).join('.') : to;
  if (!isIPv4(last)) throw new SourceRangeError(item, `${JSON.stringify(to)} is not an IPv4 address or a last octet`);
  const start = ipv4ToNumber(from);
  const end = ipv4ToNumber(last);
  if (end < start) throw new SourceRangeError(item, `the range ${item} ends before it starts`);
  if (end - start + 1 > MAX_SOURCES) throw new SourceRangeError(item, `the range ${item} has more than ${MAX_SOURCES} addresses`);
  const out: string[] = [];
  for (let value = start; value <= end; value++) out.push(numberToIpv4(value));
  return out;
}

/**
 * Parses a comma-separated list of addresses and IPv4 ranges:
 * `127.0.1.1-127.0.1.250`, `127.0.1.1-250`, `10.0.0.5,10.0.0.9`, `::1`.
 * Duplicates are dropped; order is kept.
 */
export function parseSourceRange(input: string): string[] {
  const seen = new Set<string>();
  for (const raw of input.split(',')) {
    const item = raw.trim();
    if (item === '') throw new SourceRangeError(input, 'an empty item in the list');
    const dash = item.indexOf('-');
    const addresses = dash === -1 ? [item] : expandRange(item, item.slice(0, dash), item.slice(dash + 1));
    for (const address of addresses) {
      if (isIP(address) === 0) throw new SourceRangeError(item, `${JSON.stringify(address)} is not an IP address`);
      seen.add(address);
      if (seen.size > MAX_SOURCES) throw new SourceRangeError(input, `more than ${MAX_SOURCES} addresses`);
    }
  }
  return [...seen];
}

/** Ports the kernel hands out to each source address; 28,232 with Linux's defaults. */
export function ephemeralPortCount(): number {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && high >= low) return high - low + 1;
  } catch {
    // Not Linux, or /proc is not mounted: fall back to the Linux default.
  }
  return 28_232;
}
