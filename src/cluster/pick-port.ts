// A port for every worker when PORT=0 and each binds its own socket.
import net from 'node:net';

/**
 * With the round-robin path, port 0 means one port that the primary picks for
 * everyone. With SO_REUSEPORT each worker binds on its own, so port 0 would
 * give each of them a different port; the primary picks a free one first.
 * (Another process could take it between this close and the workers' bind;
 * the workers would then fail to listen and say so.)
 */
export async function pickPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
