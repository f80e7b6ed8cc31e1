// Progress while the run goes: one line rewritten in place on a terminal,
// plain lines that a log file or CI can keep otherwise. Progress goes to
// stderr, so that stdout carries only the final summary.
import { total, type Counts, type Totals } from './report.js';

export type Phase = 'ramp' | 'hold' | 'stopping';

export interface ProgressSnapshot {
  id: string;
  elapsedMs: number;
  phase: Phase;
  requested: number;
  totals: Totals;
  /** Connections established per second since the last line. */
  openRate: number;
  /** RSS of every loadgen process, the coordinator included. */
  rssBytes: number;
  processes: number;
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCounts(counts: Counts): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.map(([reason, count]) => `${reason} ${number.format(count)}`).join(', ');
}

export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

export function formatProgress(s: ProgressSnapshot): string {
  const t = s.totals;
  const failed = total(t.failed);
  const parts = [
    `[${s.id}] ${(s.elapsedMs / 1000).toFixed(0)}s ${s.phase}`,
    `established ${number.format(t.established)}/${number.format(s.requested)} +${number.format(s.openRate)}/s`,
    `pending ${number.format(t.pending)}`,
    `failed ${number.format(failed)}`,
    `closed ${number.format(total(t.closedByServer))}`,
  ];
  if (t.reconnects > 0) parts.push(`reconnects ${number.format(t.reconnects)}`);
  parts.push(
    `heartbeats ${number.format(t.heartbeats)}`,
  );
  // Updates only where the stream carries them (--topics, a hub): a heartbeat-only run's line stays as it was.
  if (t.updates > 0) parts.push(`updates ${number.format(t.updates)} (dup ${number.format(t.duplicates)}, skipped ${number.format(t.skipped)})`);
  parts.push(
    `late ${number.format(t.late)}`,
    `overdue ${number.format(t.overdue)}`,
    `rss ${formatMegabytes(s.rssBytes)}/${s.processes + 1} procs`,
  );
  // Reasons last: the one part whose length has no bound, and the first a narrow terminal cuts.
  if (failed > 0) parts.push(`(${formatCounts(t.failed)})`);
  return parts.join(' | ');
}

export class ProgressWriter {
  private wroteLive = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  write(line: string): void {
    if (this.out.isTTY) {
      // Carriage return and erase-to-end-of-line: the same line, updated. A
      // line wider than the terminal would wrap, and \r would only go back to
      // its last row, so it is cut to fit.
      const width = Math.max(20, (this.out.columns || 80) - 1);
      this.out.write(`\r${line.length > width ? line.slice(0, width) : line}\x1b[K`);
      this.wroteLive = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** Ends the live line, so that what follows starts on a line of its own. */
  end(): void {
    if (this.wroteLive) this.out.write('\n');
    this.wroteLive = false;
  }

  /** A message between progress lines. */
  note(message: string): void {
    this.end();
    this.out.write(`${message}\n`);
  }
}
