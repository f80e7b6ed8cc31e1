// Past one machine, on real parts: three app hosts behind HAProxy, Redis with
// a replica and three Sentinels, and a load host, each a network namespace
// made by scripts/hosts.sh. The load generator reaches the hosts only through
// HAProxy; the count is read from whichever Redis the Sentinels call master.
// The steps run in order on the same network: a host killed, the Redis master
// killed, a host drained; each says how long the count took to be exact again.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './helpers/cluster.js';
import { waitFor } from './helpers/wait.js';
import type { ProgressSnapshot } from '../src/loadgen/progress-line.js';
import type { Report } from '../src/loadgen/report.js';
import type { GoneHost, HostShare } from '../src/counter/counter-store.js';
import type { HostsNetwork } from '../src/bench/hosts-network.js';
import { pidsIn } from '../src/bench/netns-host.js';

const run = promisify(execFile);
const HOSTS_SH = path.join(ROOT, 'scripts/hosts.sh');
const STREAMS = 3_000;
const LEASE_MS = 3_000;
const DRAIN_MS = 3_000;

interface Status {
  connections: number | null;
  perHost: HostShare[] | null;
  goneHosts: GoneHost[] | null;
}

describe('several hosts behind HAProxy, one Redis with Sentinel', () => {
  let state: string;
  let env: NodeJS.ProcessEnv;
  let net: HostsNetwork;
  let loadgen: ChildProcess | undefined;
  let latest: ProgressSnapshot | undefined;
  let reportFile: string;
  const progress: Array<{ at: number; snapshot: ProgressSnapshot }> = [];

  const hostsSh = async (...args: string[]): Promise<string> => (await run(HOSTS_SH, args, { env, timeout: 120_000 })).stdout;
  const inNs = async (ns: string, ...command: string[]): Promise<string> => (await run('ip', ['netns', 'exec', ns, ...command], { timeout: 10_000 })).stdout;

  /** An HTTP/1.0 GET from the load host, through bash's /dev/tcp: the whole answer, or the first `seconds` of a stream. */
  const fetchText = (address: string, target: string, seconds = 5): Promise<string> => {
    const [host, port] = address.split(':');
    const script = `exec 3<>/dev/tcp/${host}/${port} && printf 'GET ${target} HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && timeout ${seconds} cat <&3`;
    return inNs(net.loadHost, 'bash', '-c', `${script}; true`);
  };

  /** The first event of /status_watcher on one app host. */
  const statusOf = async (app: string): Promise<Status> => {
    const text = await fetchText(app, '/status_watcher', 1.5);
    const line = text.split('\n').find((l) => l.startsWith('data: '));
    assert.ok(line !== undefined, `no status event from ${app}: ${text.slice(0, 200)}`);
    return JSON.parse(line.slice(6)) as Status;
  };

  /** The count in whichever Redis the Sentinels call master now. */
  const count = async (): Promise<number | null> => {
    const master = (JSON.parse(await hostsSh('status')) as HostsNetwork).redis;
    const [host, port] = master.split(':');
    const out = await inNs(net.redisHost, 'redis-cli', '-h', host!, '-p', port!, '--raw', 'get', 'connections').catch(() => '');
    return out.trim() === '' ? null : Number(out.trim());
  };

  /** What each Redis and each Sentinel says, for a failure's message. */
  const redisViews = async (): Promise<string> => {
    const ask = (port: number, ...command: string[]): Promise<string> =>
      inNs(net.redisHost, 'redis-cli', '-h', '10.77.0.2', '-p', String(port), '--raw', ...command).then((out) => out.trim().replace(/\n/g, ' '), (err: Error) => err.message);
    const redis = await Promise.all([6379, 6380].map(async (port) => `${port}: ${await ask(port, 'role')} / count ${await ask(port, 'get', 'connections')}`));
    const sentinels = await Promise.all([26379, 26380, 26381].map((port) => ask(port, 'sentinel', 'get-master-addr-by-name', net.sentinelMaster)));
    return `${redis.join('; ')}; sentinels say ${sentinels.join(', ')}`;
  };

  /** HAProxy's own view of a server: UP, DOWN... from its stats CSV. */
  const serverState = async (server: string): Promise<string | undefined> => {
    const csv = await fetchText(net.stats, '/stats;csv');
    const row = csv.split('\n').find((line) => line.startsWith(`million_sse,${server},`));
    return row?.split(',')[17];
  };

  /** Waits until the count is `expected` and stays so for a second; returns the ms it took from `since`. */
  const countSettlesAt = async (expected: number, since: number, what: string, timeoutMs = 30_000): Promise<number> => {
    let last: number | null = null;
    let exactSince: number | undefined;
    await waitFor(
      async () => {
        last = await count();
        if (last !== expected) exactSince = undefined;
        else exactSince ??= performance.now();
        return exactSince !== undefined && performance.now() - exactSince >= 1_000;
      },
      { what: async () => `${what}: count ${expected} (last ${last}; ${await redisViews()})`, timeoutMs },
    );
    return Math.round(exactSince! - since);
  };

  before(async () => {
    state = await mkdtemp(path.join(os.tmpdir(), 'msse-hosts-'));
    env = {
      ...process.env,
      MSSE_HOSTS_PREFIX: 'msse-test',
      MSSE_HOSTS_STATE: path.join(state, 'net'),
      MSSE_HOSTS_WORKERS: '2',
      HEARTBEAT_MS: '1000',
      LEASE_MS: String(LEASE_MS),
      DRAIN_MS: String(DRAIN_MS),
      RETRY_MS: '300',
      LOG_LEVEL: 'info',
    };
    await run(HOSTS_SH, ['down'], { env }).catch(() => undefined);
    const out = await hostsSh('up', '3');
    net = JSON.parse(out.trim().split('\n').at(-1)!) as HostsNetwork;
    reportFile = path.join(state, 'loadgen.json');
    // The clients every step below watches, started here rather than by the
    // first step that counts them: when that step fails, the later ones
    // still have their clients and say what they see, and clients that
    // cannot be started fail the set-up, with that message, before any step.
    loadgen = spawn(
      'ip',
      [
        'netns', 'exec', net.loadHost,
        process.execPath, path.join(ROOT, 'dist/loadgen/main.js'),
        '--url', `http://${net.lb}/`,
        '--connections', String(STREAMS),
        '--rate', '1000',
        '--reconnect',
        '--sources', net.sources,
        '--heartbeat-ms', '1000',
        '--hold', '600',
        '--duration', '660',
        '--progress-json',
        '--progress-ms', '250',
        '--report', reportFile,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let rest = '';
    loadgen.stderr!.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        latest = JSON.parse(line) as ProgressSnapshot;
        progress.push({ at: performance.now(), snapshot: latest });
      }
    });
    await waitFor(() => latest?.phase === 'hold', { what: 'the load generator to finish its ramp', timeoutMs: 30_000 });
  });

  // The steps share one network: when one fails, the logs of every process
  // in it (each app host's, Redis's, the Sentinels', HAProxy's) are kept,
  // at once, before a later step (or `down`) changes them.
  let kept: string | undefined;
  afterEach(async (t) => {
    // `passed` is Node's (since 21.7) but not yet in @types/node's TestContext.
    if ((t as { passed?: boolean }).passed !== false || kept !== undefined) return;
    kept = path.join(os.tmpdir(), `msse-hosts-failed-${Date.now()}`);
    await cp(path.join(state, 'net'), kept, { recursive: true, filter: (source) => !source.endsWith('.sock') }).then(
      () => process.stderr.write(`hosts test failed: the network's logs are kept in ${kept}\n`),
      (err: Error) => process.stderr.write(`hosts test failed, and its logs could not be kept: ${err.message}\n`),
    );
  });

  after(async () => {
    if (loadgen?.exitCode === null) loadgen.kill('SIGKILL');
    await run(HOSTS_SH, ['down'], { env }).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
  });

  test('hosts.sh status names every part; a second up is refused while one runs', async () => {
    assert.deepEqual(net.hosts, ['msse-test-app1', 'msse-test-app2', 'msse-test-app3']);
    assert.equal(net.lb, '10.77.0.3:80');
    assert.equal(net.redis, '10.77.0.2:6379');
    assert.deepEqual([net.lbHost, net.redisHost, net.loadHost], ['msse-test-lb', 'msse-test-redis', 'msse-test-load']);
    await assert.rejects(hostsSh('up', '3'), /exist already: run scripts\/hosts.sh down first/);
  });

  test(`${STREAMS} streams through HAProxy: Redis counts them all, each host holds a share, and every host's feed says the same`, async () => {
    assert.equal(latest!.totals.established, STREAMS);
    await countSettlesAt(STREAMS, performance.now(), 'all streams counted');
    for (const app of net.apps) {
      const status = await statusOf(app);
      assert.equal(status.connections, STREAMS, `${app}'s feed`);
      assert.equal(status.perHost!.length, 3);
      assert.equal(status.perHost!.reduce((sum, h) => sum + h.connections, 0), STREAMS);
      // leastconn: each host holds about a third.
      for (const host of status.perHost!) assert.ok(host.connections > STREAMS / 6, `${host.id} holds ${host.connections}`);
    }
  });

  test('an app host killed outright: HAProxy marks it down, its share leaves within the lease, its clients come back through HAProxy', async (t) => {
    const before = latest!.totals;
    const killedAt = performance.now();
    for (const pid of await pidsIn('msse-test-app1')) process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await serverState('app1')) === 'DOWN', { what: 'HAProxy to mark app1 down', timeoutMs: 10_000 });
    const markedDownMs = Math.round(performance.now() - killedAt);
    const exactMs = await countSettlesAt(STREAMS, killedAt, 'after app1 died');
    const status = await statusOf(net.apps[1]!);
    assert.deepEqual(status.perHost!.map((h) => h.id), ['app2', 'app3']);
    assert.equal(status.perHost!.reduce((sum, h) => sum + h.connections, 0), STREAMS);
    const gone = status.goneHosts!.find((g) => g.id === 'app1');
    assert.equal(gone?.cause, 'lease expired');
    await waitFor(() => latest!.totals.established === STREAMS, { what: 'every client back' });
    const reconnected = latest!.totals.reconnects - before.reconnects;
    assert.ok(reconnected >= gone!.connections, `${reconnected} reconnects for the ${gone!.connections} app1 held`);
    t.diagnostic(`app1 killed: HAProxy marked it down after ${markedDownMs} ms; count exact again after ${exactMs} ms; ${reconnected} clients reconnected (app1 held ${gone!.connections})`);
  });

  test('the Redis master killed: Sentinel promotes the replica, the hosts follow, the count is exact within seconds, and no stream stops', async (t) => {
    const before = latest!.totals;
    const killedAt = performance.now();
    const killedAtWall = Date.now();
    process.kill(Number((await readFile(path.join(state, 'net/redis-master.pid'), 'utf8')).trim()), 'SIGKILL');
    await waitFor(async () => (JSON.parse(await hostsSh('status')) as HostsNetwork).redis === '10.77.0.2:6380', {
      what: 'Sentinel to promote the replica',
      timeoutMs: 20_000,
    });
    const promotedMs = Math.round(performance.now() - killedAt);
    // The count in Redis does not move by itself, so its being right says
    // little: every process of each live host must have connected again.
    const reconnectedProcesses = async (app: string): Promise<Set<number>> => {
      const lines = (await readFile(path.join(state, `net/${app}.log`), 'utf8')).split('\n').filter((l) => l.startsWith('{'));
      const logs = lines.map((l) => JSON.parse(l) as { time: number; pid: number; msg: string });
      return new Set(logs.filter((l) => l.msg === 'redis connected' && l.time > killedAtWall).map((l) => l.pid));
    };
    for (const app of ['app2', 'app3']) {
      await waitFor(async () => (await reconnectedProcesses(app)).size === 3, {
        what: async () => `${app}'s primary and both workers to connect to the new master (${(await reconnectedProcesses(app)).size} did)`,
        timeoutMs: 15_000,
      });
    }
    const followedMs = Math.round(performance.now() - killedAt);
    const exactMs = await countSettlesAt(STREAMS, killedAt, 'after the failover');
    for (const app of net.apps.slice(1)) {
      // A primary's client may still be reconnecting (Sentinel disconnects
      // the clients of the replica it promotes): its feed says null for that second.
      let status: Status | undefined;
      await waitFor(async () => (status = await statusOf(app)).connections === STREAMS, { what: () => `${app}'s feed to say ${STREAMS} (it says ${status?.connections})` });
      // Leases that ran out while nobody could renew them are not deaths: the hosts kept their shares.
      assert.deepEqual(status!.goneHosts!.map((g) => g.id), ['app1'], 'no live host was reaped during the failover');
    }
    const closed = (t: typeof before): number => Object.values(t.closedByServer).reduce((a, b) => a + b, 0);
    assert.equal(closed(latest!.totals), closed(before), 'no stream ended');
    t.diagnostic(`Redis master killed: replica promoted after ${promotedMs} ms; every process of the live hosts on the new master after ${followedMs} ms; count exact after ${exactMs} ms; 0 streams ended`);
  });

  test('a host drained with SIGTERM: its clients move to the other, spread over the drain, and none is refused', async (t) => {
    const before = latest!.totals;
    const primary = Number((await readFile(path.join(state, 'net/app2.pid'), 'utf8')).trim());
    const held = (await statusOf(net.apps[1]!)).perHost!.find((h) => h.id === 'app2')!.connections;
    const drainedAt = performance.now();
    process.kill(primary, 'SIGTERM');
    // DRAIN_NOTICE_MS first (HAProxy takes app2 out of rotation), then DRAIN_MS.
    await waitFor(async () => (await serverState('app2')) === 'DOWN', { what: 'HAProxy to take app2 out on its failing /ping', timeoutMs: 10_000 });
    await waitFor(async () => (await statusOf(net.apps[2]!)).perHost?.every((h) => h.id !== 'app2') === true, { what: 'app2 to leave the count', timeoutMs: 30_000 });
    const exactMs = await countSettlesAt(STREAMS, drainedAt, 'after app2 drained');
    const status = await statusOf(net.apps[2]!);
    assert.deepEqual(status.perHost!.map((h) => [h.id, h.connections]), [['app3', STREAMS]]);
    assert.equal(status.goneHosts!.find((g) => g.id === 'app2')?.cause, 'stopped');
    await waitFor(() => latest!.totals.established === STREAMS, { what: 'every client back' });
    const failed = (t: typeof before): number => Object.values(t.reconnectsFailed).reduce((a, b) => a + b, 0);
    assert.equal(failed(latest!.totals), failed(before), `no reconnect was refused: before ${JSON.stringify(before.reconnectsFailed)}, after ${JSON.stringify(latest!.totals.reconnectsFailed)}`);
    // The moves, as the load generator saw its reconnects grow: spread over the drain, not all at once.
    const moves = progress.filter((p) => p.at >= drainedAt && p.snapshot.totals.reconnects > before.reconnects);
    const spreadMs = moves.length === 0 ? 0 : moves.find((p) => p.snapshot.totals.reconnects >= before.reconnects + held)!.at - moves[0]!.at;
    // All at once would be within one progress interval (250 ms).
    assert.ok(spreadMs >= DRAIN_MS / 4, `app2's ${held} clients moved within ${Math.round(spreadMs)} ms`);
    t.diagnostic(`app2 drained: its ${held} clients moved over ${Math.round(spreadMs)} ms; count exact again after ${exactMs} ms; 0 refused`);
  });

  test('deploy/haproxy.cfg as shipped, and as hosts.sh ran it, passes haproxy -c', async () => {
    for (const file of [path.join(ROOT, 'deploy/haproxy.cfg'), path.join(state, 'net/haproxy.cfg')]) {
      const { stdout } = await run('haproxy', ['-c', '-f', file]);
      assert.match(stdout, /Configuration file is valid/);
    }
    const shipped = await readFile(path.join(ROOT, 'deploy/haproxy.cfg'), 'utf8');
    for (const setting of ['balance leastconn', 'option httpchk GET /ping', 'timeout tunnel', 'timeout http-request', 'stick-table', 'prometheus-exporter']) {
      assert.ok(shipped.includes(setting), setting);
    }
  });

  test("the load generator's report agrees with the count", async () => {
    const counted = await count();
    const exited = new Promise((resolve) => loadgen!.once('exit', resolve));
    loadgen!.kill('SIGTERM');
    await exited;
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as Report;
    assert.equal(report.established.atEnd, counted);
    assert.equal(report.failed.total, 0);
    assert.equal(report.complete, true);
  });

  test('down stops everything and removes every namespace it made', async () => {
    const pids = (await Promise.all(['msse-test-app2', 'msse-test-app3', 'msse-test-redis', 'msse-test-lb'].map(pidsIn))).flat();
    assert.ok(pids.length > 0);
    assert.match(await hostsSh('down'), /\{"down":true\}/);
    const { stdout } = await run('ip', ['netns', 'list']);
    assert.doesNotMatch(stdout, /msse-test-/);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
    await assert.rejects(hostsSh('status'), /no network is up/);
  });
});

test('hosts.sh refuses to run without root, with a clear message, and leaves nothing behind', async () => {
  const asNobody = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', HOSTS_SH, 'up', '1'], {
    env: { ...process.env, MSSE_HOSTS_PREFIX: 'msse-nobody', MSSE_HOSTS_STATE: path.join(os.tmpdir(), 'msse-nobody') },
  });
  await assert.rejects(asNobody, (err: Error & { stderr: string; code: number }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /must run as root: it creates network namespaces/);
    return true;
  });
  assert.doesNotMatch((await run('ip', ['netns', 'list'])).stdout, /msse-nobody/);
});
