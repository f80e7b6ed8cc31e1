// Reads what the kernel knows about processes and sockets, from /proc, once a
// sample. Linux only, like the experiment.
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

const PAGE = 4096;
const TICKS = 100; // USER_HZ on Linux

/** Resident set size in bytes, or undefined once the process is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process has used. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** Child processes of `pid` (direct children only). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return children;
}

/** The machine's CPU time by kind, in seconds summed over its cores (the `cpu` line of /proc/stat). */
export interface MachineCpu {
  /** User code, niced included. */
  user: number;
  /** Kernel code on behalf of processes: system calls, the TCP stack in process context. */
  system: number;
  /** Deferred interrupt work: on loopback and veth, most of TCP's receive path. */
  softirq: number;
  /** Time the hypervisor gave to someone else. */
  steal: number;
  /** Idle and waiting for I/O. */
  idle: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map((v) => Number(v) / TICKS);
  return { user: user + nice, system: system + irq, softirq, steal, idle: idle + iowait };
}

/** What each kind took between two readings `seconds` apart, in cores (CPU seconds per second). */
export function cpuBetween(before: MachineCpu, after: MachineCpu, seconds: number): MachineCpu {
  const round = (v: number): number => Math.round((v / seconds) * 100) / 100;
  return {
    user: round(after.user - before.user),
    system: round(after.system - before.system),
    softirq: round(after.softirq - before.softirq),
    steal: round(after.steal - before.steal),
    idle: round(after.idle - before.idle),
  };
}

export interface KernelSample {
  /** TCP sockets in use, from /proc/net/sockstat. */
  tcpInUse: number;
  /** Bytes of TCP buffer memory the kernel accounts (sockstat `mem`, in pages). */
  tcpMemBytes: number;
  /** Kernel slab memory in bytes (/proc/meminfo Slab): socket structures live here. */
  slabBytes: number;
  memAvailableBytes: number;
  loadavg1: number;
}

export function kernelSample(): KernelSample {
  const sockstat = readFileSync('/proc/net/sockstat', 'utf8');
  const tcp = /^TCP: inuse (\d+) .* mem (\d+)/m.exec(sockstat);
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  return {
    tcpInUse: Number(tcp?.[1] ?? 0),
    tcpMemBytes: Number(tcp?.[2] ?? 0) * PAGE,
    slabBytes: kb('Slab'),
    memAvailableBytes: kb('MemAvailable'),
    loadavg1: os.loadavg()[0] ?? 0,
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
