// A process's memory figures for the status feed. Reading them opens
// /proc/self/status, which fails with EMFILE when the process is at its
// open-file limit: a worker full of connections, or the primary during a
// connection flood (it holds each accepted socket until a worker takes it).
// A missing figure must never take a process, and its streams, down.
export function memoryFigures(): { rss: number; heapUsed: number } {
  try {
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed };
  } catch {
    return { rss: 0, heapUsed: 0 };
  }
}
