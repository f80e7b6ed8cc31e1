// How connections reach the workers: the one decision about the accept path,
// made once when the Config is read, and handed to every worker with it.
//
// reuseport: each worker listens on the port with a socket of its own
//   (SO_REUSEPORT, `listen({ reusePort: true, exclusive: true })`, Node
//   22.12+). The kernel hashes each new connection to one of the listening
//   sockets, every worker has its own accept queue, and the primary is out of
//   the path. Measured on a 2-core VM: about 6,000 new connections a second
//   against 1,200 through the primary. The price: a worker's accept queue dies
//   with it, so connections that were waiting there (completed handshakes not
//   yet accepted) are reset when a worker is killed.
// round-robin: Node's default in a cluster. The primary owns the one listening
//   socket, accepts every connection and passes it to a worker over IPC: one
//   process does every accept and a sendmsg per connection.
//
// https://man7.org/linux/man-pages/man7/socket.7.html (SO_REUSEPORT)
// https://nodejs.org/api/net.html#serverlistenoptions-callback (reusePort)
export type AcceptPath = 'reuseport' | 'round-robin';

/** Platforms whose kernels balance connections over SO_REUSEPORT listeners, as Node documents. */
const REUSEPORT_PLATFORMS: ReadonlySet<NodeJS.Platform> = new Set(['linux', 'freebsd', 'sunos', 'aix']);

/** Node's `reusePort` listen option arrived in 22.12 (and 23.1). */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** The accept path `auto` resolves to here, and why, for the start-up log line. */
export function defaultAcceptPath(
  platform: NodeJS.Platform = process.platform,
  version: string = process.versions.node,
): { path: AcceptPath; reason: string } {
  if (!REUSEPORT_PLATFORMS.has(platform)) {
    return { path: 'round-robin', reason: `${platform} does not balance connections over SO_REUSEPORT listeners` };
  }
  if (!nodeHasReusePort(version)) {
    return { path: 'round-robin', reason: `Node ${version} has no reusePort listen option (22.12 or later has)` };
  }
  return { path: 'reuseport', reason: `SO_REUSEPORT on ${platform}` };
}
