// Forks the workers, restarts one that dies (with a back-off), and knows when
// all of them listen. It never touches connections itself: with SO_REUSEPORT
// the kernel hands them to the workers' own listening sockets, and on the
// round-robin path Node's cluster module does (see config/accept-path.ts).
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import { isWorkerMessage, type PrimaryMessage, type WorkerMessage } from './messages.js';

export interface SupervisorOptions {
  workers: number;
  /** Added to the primary's own execArgv for each worker. */
  nodeFlags: readonly string[];
  /** Merged over the primary's environment for each worker; an undefined value leaves the variable out. */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** A message from a worker; `reply` answers that worker alone. */
  onMessage(workerId: number, message: Exclude<WorkerMessage, { type: 'listening' }>, reply: (message: PrimaryMessage) => void): void;
  /** A worker died without draining; its share of the count must go. */
  onWorkerDied(workerId: number): void;
}

const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 10_000;
/** A worker that lived this long before dying is not crash-looping: the back-off starts over. */
const STABLE_AFTER_MS = 10_000;
/** How long a rolling restart waits for a replacement to listen before it gives up. */
const REPLACEMENT_LISTEN_TIMEOUT_MS = 30_000;

export class Supervisor extends EventEmitter {
  private readonly startedAt = new Map<number, number>();
  private restartDelay = FIRST_RESTART_DELAY_MS;
  private stopping = false;
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  /** Workers a rolling restart has asked to drain: their exit is expected, and not followed by a fork. */
  private readonly retiring = new Set<number>();
  /** Replacements that have not listened yet: one that dies is the roll's failure, not a crash to restart. */
  private readonly replacements = new Set<number>();
  private rolling = false;

  constructor(private readonly options: SupervisorOptions) {
    super();
  }

  /** True once drain() or killAll() has been called: exits from then on are the shutdown's. */
  get draining(): boolean {
    return this.stopping;
  }

  get workers(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  }

  /** Forks every worker; resolves once all of them listen. */
  start(): Promise<void> {
    cluster.setupPrimary({ execArgv: [...process.execArgv, ...this.options.nodeFlags] });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    let listeningCount = 0;
    let allListening: () => void = () => undefined;
    const listening = new Promise<void>((resolve) => (allListening = resolve));
    cluster.on('message', (worker, message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'listening') {
        // Replacements listen too; only the first round decides start-up.
        if (++listeningCount === this.options.workers) allListening();
        this.emit('listening', worker.id);
        return;
      }
      this.options.onMessage(worker.id, message, (answer) => {
        if (worker.isConnected()) worker.send(answer);
      });
    });
    for (let i = 0; i < this.options.workers; i++) this.fork();
    return listening;
  }

  /** Sends to every worker, or to those `only` accepts. */
  broadcast(message: PrimaryMessage, only?: (workerId: number) => boolean): void {
    for (const worker of this.workers) {
      if (worker.isConnected() && (only === undefined || only(worker.id))) worker.send(message);
    }
  }

  /** Asks every worker to drain; resolves when all have exited. */
  drain(): Promise<void> {
    this.stopping = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    const alive = this.workers;
    if (alive.length === 0) return Promise.resolve();
    const exited = Promise.all(alive.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
    this.broadcast({ type: 'drain' });
    return exited.then(() => undefined);
  }

  /**
   * Replaces the workers one at a time (SIGHUP): a replacement is forked and
   * listens before the worker it replaces drains, so the port always has as
   * many listeners as workers, and the drained worker's clients, coming back
   * over DRAIN_MS, find the others. With SO_REUSEPORT, connections still
   * queued at the drained worker's socket are reset when it closes unless
   * net.ipv4.tcp_migrate_req=1 hands them to the others (scripts/tune-os.sh).
   */
  async rollingRestart(): Promise<{ replaced: number }> {
    if (this.rolling) throw new Error('a rolling restart is already under way');
    this.rolling = true;
    let replaced = 0;
    try {
      for (const old of this.workers) {
        if (this.stopping) break;
        if (!old.isConnected() || this.retiring.has(old.id)) continue;
        const replacement = this.fork();
        this.replacements.add(replacement.id);
        const listened = await this.listened(replacement);
        this.replacements.delete(replacement.id);
        if (!listened) {
          if (!replacement.isDead()) replacement.process.kill('SIGKILL');
          throw new Error(`worker ${replacement.id} did not listen within ${REPLACEMENT_LISTEN_TIMEOUT_MS} ms; the others keep running`);
        }
        if (this.stopping) break;
        const exited = new Promise((resolve) => old.once('exit', resolve));
        this.retiring.add(old.id);
        old.send({ type: 'drain' } satisfies PrimaryMessage);
        await exited;
        replaced++;
        this.options.logger.info({ worker: old.id, replacement: replacement.id, replaced, of: this.options.workers }, 'rolling restart: worker replaced');
      }
    } finally {
      this.rolling = false;
    }
    return { replaced };
  }

  /** Resolves true when `worker` says it listens, false when it exits first or takes too long. */
  private listened(worker: Worker): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.off('listening', onListening);
        worker.off('exit', onExit);
        resolve(result);
      };
      const onListening = (id: number): void => {
        if (id === worker.id) done(true);
      };
      const onExit = (): void => done(false);
      const timer = setTimeout(() => done(false), REPLACEMENT_LISTEN_TIMEOUT_MS);
      this.on('listening', onListening);
      worker.once('exit', onExit);
    });
  }

  killAll(): void {
    this.stopping = true;
    for (const worker of this.workers) worker.process.kill('SIGKILL');
  }

  private fork(): Worker {
    const worker = cluster.fork(this.options.env);
    this.startedAt.set(worker.id, Date.now());
    return worker;
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const lived = Date.now() - (this.startedAt.get(worker.id) ?? Date.now());
    this.startedAt.delete(worker.id);
    // A drained worker exits 0 after reporting its share as 0; any other exit
    // may leave its share in Redis.
    const retired = this.retiring.delete(worker.id);
    const died = !((this.stopping || retired) && code === 0);
    if (died) this.options.onWorkerDied(worker.id);
    this.emit('worker-exit', worker.id, died);
    // A retired worker has its replacement already; a replacement that died
    // before listening fails the roll, which leaves the old workers in place.
    if (this.stopping || retired || this.replacements.has(worker.id)) return;
    this.restartDelay = lived >= STABLE_AFTER_MS ? FIRST_RESTART_DELAY_MS : this.restartDelay;
    const delay = this.restartDelay;
    this.options.logger.warn(
      { worker: worker.id, workerPid: worker.process.pid, code, signal, livedMs: lived, restartInMs: delay },
      signal === null ? `worker exited with code ${code}; restarting` : `worker killed by ${signal}; restarting`,
    );
    this.restartDelay = Math.min(this.restartDelay * 2, MAX_RESTART_DELAY_MS);
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(timer);
      if (!this.stopping) this.fork();
    }, delay);
    this.pendingRestarts.add(timer);
  }
}
