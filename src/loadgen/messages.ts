// Messages between the coordinator and its client processes, over the IPC
// channel that child_process.fork (Node engine) or spawn (C engine) sets up:
// JSON serialisation, one message per line. native/loadgen-client/ reads and
// writes the same shapes.
import type { ProcessShare } from './process-plan.js';
import type { ClientProgress, ClientResult } from './report.js';

export interface ClientPlan {
  share: ProcessShare;
  /** An IP address: the coordinator resolves a host name once for every process. */
  host: string;
  port: number;
  /** The whole request, head and blank line, the same bytes for every connection unless `topics` is set. */
  request: string;
  /**
   * With --topics: how many, and where in `request` each connection's topic
   * number goes (the end of the `match` parameter); the run-wide connection
   * number modulo `topics` picks it. Absent or 0: one request for all.
   */
  topics?: number;
  topicAt?: number;
  sources: readonly string[];
  connectTimeoutMs: number;
  /** A silence longer than this is late; 0 turns the check off. */
  lateAfterMs: number;
  reconnect: boolean;
  /** The process stops on its own this long after starting, should no stop arrive. */
  deadlineMs: number;
  /** The C engine's batch period (--batch-ms); the Node engine reads as data arrives and has none. */
  batchMs?: number;
}

export type CoordinatorMessage =
  | { type: 'start'; plan: ClientPlan }
  /** From now on, count heartbeat gaps and late heartbeats afresh (--measure-after). */
  | { type: 'mark' }
  /** From now on, count neither (the end of --measure-for): what follows the window stays out of it. */
  | { type: 'freeze' }
  | { type: 'stop' };

export type ClientMessage = { type: 'progress'; progress: ClientProgress } | { type: 'result'; result: ClientResult };
