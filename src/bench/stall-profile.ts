// Which seconds of a hold were stalls, and what the machine did in them
// against the other seconds. A stall second is one in which some worker's
// heartbeat timer ran late by STALL_LOOP_DELAY_MS or more: its heartbeats that
// second left late, and the clients saw gaps past 15.5 s. Set side by side,
// the medians say where the CPU went when it happened: to the workers'
// garbage collection, to the load generator, or to the kernel.
import type { Sample } from './bench-result.js';
import { median } from '../stats/median.js';

/** Lateness that the heartbeat-gap target (p99 at most 15.5 s for 15 s) cannot absorb. */
export const STALL_LOOP_DELAY_MS = 500;

export interface SecondFigures {
  /** CPU in cores (CPU seconds per second): the server's processes, the load generator's. */
  serverCpu: number;
  loadgenCpu: number;
  /** The machine's CPU by kind, in cores (see MachineCpu). */
  user: number;
  system: number;
  softirq: number;
  steal: number;
  idle: number;
  /** Pause time summed over the workers, all kinds and major (mark-compact) alone, in ms. */
  gcPauseMs: number;
  gcMajorPauseMs: number;
  /** Workers that had a major GC in the second. */
  workersInMajorGc: number;
  /** The share of these seconds in which at least one worker had a major GC. */
  withMajorGc: number;
  heartbeatsPerSec: number;
}

export interface StallProfile {
  thresholdMs: number;
  /** Stall seconds, out of the hold's seconds that have the workers' figures. */
  seconds: number;
  ofSeconds: number;
  /** Medians over the stall seconds, and over the others. */
  stalled: SecondFigures | null;
  steady: SecondFigures | null;
}

type Profiled = Sample & { cpu: NonNullable<Sample['cpu']>; workers: NonNullable<Sample['workers']> };

function medians(samples: Profiled[]): SecondFigures | null {
  if (samples.length === 0) return null;
  const m = (pick: (s: Profiled) => number): number => Math.round(median(samples.map(pick)) * 100) / 100;
  return {
    serverCpu: m((s) => s.cpu.server),
    loadgenCpu: m((s) => s.cpu.loadgen),
    user: m((s) => s.cpu.machine.user),
    system: m((s) => s.cpu.machine.system),
    softirq: m((s) => s.cpu.machine.softirq),
    steal: m((s) => s.cpu.machine.steal),
    idle: m((s) => s.cpu.machine.idle),
    gcPauseMs: m((s) => s.workers.gcPauseMs),
    gcMajorPauseMs: m((s) => s.workers.gcMajorPauseMs),
    workersInMajorGc: m((s) => s.workers.inMajorGc),
    withMajorGc: Math.round((samples.filter((s) => s.workers.inMajorGc > 0).length / samples.length) * 100) / 100,
    heartbeatsPerSec: m((s) => s.heartbeatsPerSec),
  };
}

/**
 * The profile of a hold's samples; null when they carry no workers' figures
 * (the bare loop has no status feed). The workers' figures are the status
 * feed's latest second when the sample was taken, so they may trail the CPU
 * figures by up to a second: a medians comparison, not a second-by-second one.
 */
export function stallProfile(samples: readonly Sample[]): StallProfile | null {
  const profiled = samples.filter((s): s is Profiled => s.cpu !== undefined && s.workers !== undefined && s.workers !== null);
  if (profiled.length === 0) return null;
  const stalled = profiled.filter((s) => s.workers.worstLoopDelayMs >= STALL_LOOP_DELAY_MS);
  const steady = profiled.filter((s) => s.workers.worstLoopDelayMs < STALL_LOOP_DELAY_MS);
  return { thresholdMs: STALL_LOOP_DELAY_MS, seconds: stalled.length, ofSeconds: profiled.length, stalled: medians(stalled), steady: medians(steady) };
}
