// Redis behind a password, an ACL user or TLS, each a real redis-server this
// file starts on free ports: the primary and every worker reach it through
// REDIS_URL (and REDIS_CA_FILE), and no log line shows the password.
// Credentials or a certificate that Redis refuses stop start-up within
// seconds, with exit 78 (EX_CONFIG) and one line that says what to fix,
// instead of a cluster that retries forever and never counts; Redis merely
// being down still does not stop it.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { loadConfig } from '../src/config/config.js';
import { redactUrl } from '../src/config/redact-url.js';
import { ConfigError, EX_CONFIG } from '../src/errors.js';
import { ROOT, childPids, runPrimary, startCluster, type TestCluster } from './helpers/cluster.js';
import { startRedisProcess, type RedisProcess } from './helpers/redis.js';
import { openSse, type RawStream } from './helpers/sse-client.js';
import { freePort, waitFor } from './helpers/wait.js';

const run = promisify(execFile);

// Every secret here contains "Zq9", which appears nowhere else: a log that
// contains it leaked a password, raw or percent-encoded. They also hold
// characters that must be percent-encoded in a URL.
const MARK = 'Zq9';
const PASSWORD = 'Zq9/pa:ss@wo#rd%Zq9';
const ACL_USER = 'msse-counter';
const ACL_PASSWORD = 'Zq9-acl/p@ss';

/** The rules of the README's `ACL SETUSER msse ...` line, which the ACL user of these tests gets. */
async function readmeAclRules(): Promise<string[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const line = /^ACL SETUSER msse (.+)$/m.exec(readme);
  assert.ok(line, "the README's ACL line");
  return line[1]!.split(' ').map((rule) => (rule === '>password' ? `>${ACL_PASSWORD}` : rule));
}

const secret = (value: string): string => encodeURIComponent(value);

let dir: string;
/** Redis with requirepass and an ACL user; `admin` is the default user, authenticated. */
let authRedis: { port: number; server: RedisProcess; admin: Redis };
/** Redis on a TLS port only, its certificate signed by a throwaway CA. */
let tlsRedis: { port: number; server: RedisProcess; admin: Redis };
let caFile: string;
let otherCaFile: string;

function openssl(...args: string[]): Promise<unknown> {
  return run('openssl', args, { cwd: dir });
}

/** A self-signed CA in `dir`: <name>.crt and <name>.key. */
async function makeCa(name: string): Promise<string> {
  await writeFile(
    path.join(dir, `${name}.cnf`),
    [
      '[req]',
      'distinguished_name = dn',
      'x509_extensions = ext',
      'prompt = no',
      '[dn]',
      `CN = million-sse test ${name}`,
      '[ext]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  // P-256 keys: generated in milliseconds, where RSA takes a noticeable while on a small machine.
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-config', `${name}.cnf`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
  return path.join(dir, `${name}.crt`);
}

/** A server certificate for 127.0.0.1 and localhost, signed by the CA `ca`: redis.crt and redis.key. */
async function makeServerCertificate(ca: string): Promise<void> {
  await writeFile(
    path.join(dir, 'redis.ext'),
    [
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1, DNS:localhost',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'redis.key', '-out', 'redis.csr');
  await openssl('x509', '-req', '-in', 'redis.csr', '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', '1', '-days', '2', '-extfile', 'redis.ext', '-out', 'redis.crt');
}

async function adminClient(options: RedisOptions): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100, ...options });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'msse-redis-security-'));
  caFile = await makeCa('ca');
  otherCaFile = await makeCa('other-ca');
  await makeServerCertificate('ca');

  const authPort = await freePort();
  const authServer = await startRedisProcess(['--port', String(authPort)]);
  // The password is set over the connection rather than on redis-server's
  // command line, where its #, @ and % would need quoting of their own.
  const setup = await adminClient({ port: authPort });
  const rules = await readmeAclRules();
  await setup.call('ACL', 'SETUSER', ACL_USER, ...rules);
  // The same but HSET, which report.lua needs: a user that connects but cannot count.
  await setup.call('ACL', 'SETUSER', 'msse-no-hset', ...rules.filter((r) => r !== '+hset' && !r.startsWith('>')), '>Zq9-nohset');
  await setup.config('SET', 'requirepass', PASSWORD);
  setup.disconnect();
  authRedis = { port: authPort, server: authServer, admin: await adminClient({ port: authPort, password: PASSWORD }) };

  const tlsPort = await freePort();
  const tlsServer = await startRedisProcess([
    '--port', '0',
    '--tls-port', String(tlsPort),
    '--tls-cert-file', path.join(dir, 'redis.crt'),
    '--tls-key-file', path.join(dir, 'redis.key'),
    '--tls-ca-cert-file', caFile,
    '--tls-auth-clients', 'no',
  ]);
  tlsRedis = { port: tlsPort, server: tlsServer, admin: await adminClient({ port: tlsPort, tls: { ca: await readFile(caFile, 'utf8') } }) };
});

after(async () => {
  authRedis?.admin.disconnect();
  tlsRedis?.admin.disconnect();
  await authRedis?.server.stop();
  await tlsRedis?.server.stop();
  await rm(dir, { recursive: true, force: true });
});

/** All a process wrote: its JSON log lines and anything else. */
function everything(cluster: TestCluster): string {
  return JSON.stringify(cluster.logs) + cluster.stderr();
}

/**
 * The cluster on `url` counts a stream in `admin`'s Redis, every worker
 * reports there, it drains cleanly, and nothing it wrote shows a password.
 */
async function countsAndKeepsQuiet(admin: Redis, env: Record<string, string>, expectedUrl: string): Promise<void> {
  await admin.flushall();
  const hostId = `secure-${Math.random().toString(16).slice(2, 8)}`;
  const cluster = await startCluster({ WORKERS: '2', HEARTBEAT_MS: '500', DRAIN_MS: '200', HOST_ID: hostId, ...env });
  try {
    const stream = openSse(cluster.port);
    await waitFor(async () => (await admin.get('connections')) === '1', { what: 'the stream counted in Redis' });
    // Each worker writes its own field: both authenticated, not just the primary.
    await waitFor(async () => Object.keys(await admin.hgetall(`connections:host:${hostId}`)).length === 2, { what: "both workers' fields" });
    // They got it over IPC: a process's environment is readable by its user in /proc/<pid>/environ.
    const workers = childPids(cluster.child.pid!);
    assert.equal(workers.length, 2);
    for (const pid of workers) assert.ok(!(await readFile(`/proc/${pid}/environ`, 'latin1')).includes(MARK), `a password in worker ${pid}'s environment`);
    // The primary and both workers said so (log lines travel apart from the Redis replies).
    await waitFor(() => cluster.logs.filter((l) => l.msg === 'redis connected').length === 3, { what: 'three redis connected lines' });
    const connected = cluster.logs.filter((l) => l.msg === 'redis connected');
    assert.deepEqual(connected.map((l) => l.role).sort(), ['primary', 'worker', 'worker']);
    assert.ok(connected.every((l) => l.redis === expectedUrl), JSON.stringify(connected));
    const listening = cluster.logs.find((l) => l.msg.startsWith('million-sse listening'));
    assert.equal(listening?.redis, expectedUrl);
    stream.close();
    await waitFor(async () => (await admin.get('connections')) === '0', { what: 'the count back to 0' });
    cluster.child.kill('SIGTERM');
    assert.equal((await cluster.exited).code, 0);
    assert.equal(await admin.scard('connections:hosts'), 0, 'the drain removed the host, and the start-up check left nothing behind');
    assert.ok(!everything(cluster).includes(MARK), `a password in the logs:\n${everything(cluster)}`);
  } finally {
    await cluster.stop();
  }
}

test('requirepass: the password in REDIS_URL reaches the primary and every worker, and no log shows it', async () => {
  const url = `redis://:${secret(PASSWORD)}@127.0.0.1:${authRedis.port}`;
  await countsAndKeepsQuiet(authRedis.admin, { REDIS_URL: url }, `redis://:***@127.0.0.1:${authRedis.port}`);
});

test('an ACL user with only the commands and keys the count needs works the same', async () => {
  const url = `redis://${ACL_USER}:${secret(ACL_PASSWORD)}@127.0.0.1:${authRedis.port}`;
  await countsAndKeepsQuiet(authRedis.admin, { REDIS_URL: url }, `redis://${ACL_USER}:***@127.0.0.1:${authRedis.port}`);
});

test("a permission taken from a running cluster's ACL user: each worker says once that Redis refused its report, and counts again once it is back", async () => {
  const admin = authRedis.admin;
  await admin.flushall();
  const user = 'msse-revoked';
  const password = 'Zq9-revoked';
  await admin.call('ACL', 'SETUSER', user, 'reset', ...(await readmeAclRules()).filter((r) => !r.startsWith('>')), `>${password}`);
  const cluster = await startCluster({ WORKERS: '2', HEARTBEAT_MS: '500', DRAIN_MS: '200', REDIS_URL: `redis://${user}:${password}@127.0.0.1:${authRedis.port}` });
  const streams: RawStream[] = [];
  try {
    streams.push(openSse(cluster.port));
    await waitFor(async () => (await admin.get('connections')) === '1', { what: 'the first stream counted' });
    // report.lua's HSET is refused from now on: a reply error on a live connection, not an outage.
    await admin.call('ACL', 'SETUSER', user, '-hset');
    const refusals = (): typeof cluster.logs => cluster.logs.filter((l) => l.msg === "redis refused this worker's count report; retrying every second");
    await waitFor(() => refusals().length === 2, { what: 'a refusal line from each worker' });
    assert.deepEqual(refusals().map((l) => l.role), ['worker', 'worker']);
    assert.match(JSON.stringify(refusals()[0]!.err), /NOPERM|can't run this command/);
    streams.push(openSse(cluster.port));
    await sleep(1_500); // three more refused reports from each worker, said no more
    assert.equal(refusals().length, 2, 'said once per cause, not every second');
    assert.equal(await admin.get('connections'), '1', 'the second stream is not counted while reports are refused');
    await admin.call('ACL', 'SETUSER', user, '+hset');
    await waitFor(async () => (await admin.get('connections')) === '2', { what: 'both streams counted once the permission is back' });
  } finally {
    for (const stream of streams) stream.close();
    await cluster.stop();
    await admin.call('ACL', 'DELUSER', user);
  }
});

test("the README's ACL line grants every command the Lua scripts call", async () => {
  const granted = new Set((await readmeAclRules()).filter((r) => r.startsWith('+')).map((r) => r.slice(1)));
  const lua = path.join(ROOT, 'src/counter/lua');
  for (const file of await readdir(lua)) {
    const source = await readFile(path.join(lua, file), 'utf8');
    for (const [, command] of source.matchAll(/redis\.p?call\('(\w+)'/g)) {
      assert.ok(granted.has(command!.toLowerCase()), `${file} calls ${command}, which the README's ACL line does not grant`);
    }
  }
});

test('TLS: rediss:// with REDIS_CA_FILE naming the CA that signed Redis\'s certificate', async () => {
  const url = `rediss://127.0.0.1:${tlsRedis.port}`;
  await countsAndKeepsQuiet(tlsRedis.admin, { REDIS_URL: url, REDIS_CA_FILE: caFile }, url);
});

/**
 * Starts the primary on `env` and expects it to refuse within seconds: exit
 * 78, no worker forked, one fatal line naming `variable`, no stack trace, no
 * other output, no password. Returns that line's message.
 */
async function refusesToStart(t: TestContext, env: Record<string, string>, variable: string): Promise<string> {
  const startedAt = performance.now();
  const primary = runPrimary({ WORKERS: '2', HOST: '127.0.0.1', PORT: String(await freePort()), ...env });
  try {
    const { code } = await primary.exited;
    const ms = Math.round(performance.now() - startedAt);
    t.diagnostic(`exit ${code} after ${ms} ms`);
    assert.equal(code, EX_CONFIG, everything(primary));
    assert.ok(ms < 5_000, `exited after ${ms} ms`);
    const fatal = primary.logs.filter((l) => l.level === 60);
    assert.equal(fatal.length, 1, everything(primary));
    const line = fatal[0]!;
    assert.match(line.msg, new RegExp(`\\b${variable}\\b`));
    assert.equal(line.code, 'MSSE_REDIS_ACCESS');
    assert.equal(line.variable, variable);
    assert.ok(!('err' in line) && !('stack' in line), 'no stack trace');
    assert.ok(!primary.logs.some((l) => l.level >= 50 && l !== line), 'no other error lines');
    assert.ok(!primary.logs.some((l) => l.role === 'worker'), 'no worker was forked');
    assert.equal(primary.stderr(), '', 'nothing but JSON log lines');
    assert.ok(!everything(primary).includes(MARK), `a password in the logs:\n${everything(primary)}`);
    return line.msg;
  } finally {
    await primary.stop();
  }
}

test('a wrong password exits 78 at once, saying to fix REDIS_URL', async (t) => {
  const message = await refusesToStart(t, { REDIS_URL: `redis://:${secret('Zq9-wrong')}@127.0.0.1:${authRedis.port}` }, 'REDIS_URL');
  assert.match(message, /refused the user name or password in REDIS_URL.*WRONGPASS/);
  assert.ok(message.includes(`redis://:***@127.0.0.1:${authRedis.port}`), message);
});

test('no password for a Redis that requires one exits 78 (NOAUTH)', async (t) => {
  const message = await refusesToStart(t, { REDIS_URL: `redis://127.0.0.1:${authRedis.port}` }, 'REDIS_URL');
  assert.match(message, /requires a password and REDIS_URL has none.*NOAUTH/);
});

test('an unknown ACL user exits 78', async (t) => {
  const message = await refusesToStart(t, { REDIS_URL: `redis://nobody:${secret(ACL_PASSWORD)}@127.0.0.1:${authRedis.port}` }, 'REDIS_URL');
  assert.match(message, /WRONGPASS/);
  assert.ok(message.includes(`redis://nobody:***@`), message);
});

test('an ACL user that lacks a command the Lua scripts run exits 78 (NOPERM), not a cluster that never counts', async (t) => {
  const message = await refusesToStart(t, { REDIS_URL: `redis://msse-no-hset:${secret('Zq9-nohset')}@127.0.0.1:${authRedis.port}` }, 'REDIS_URL');
  // Redis 7.0 words a denial inside a script without the NOPERM prefix; 7.2 and later with it.
  assert.match(message, /lacks a permission .*(NOPERM|can't run this command)/);
});

test('TLS with a certificate no trusted CA signed (no REDIS_CA_FILE) exits 78, saying to set REDIS_CA_FILE', async (t) => {
  const message = await refusesToStart(t, { REDIS_URL: `rediss://127.0.0.1:${tlsRedis.port}` }, 'REDIS_CA_FILE');
  assert.match(message, /not signed by a CA this machine trusts; set REDIS_CA_FILE/);
});

test('TLS with REDIS_CA_FILE naming another CA exits 78, naming that file', async (t) => {
  const message = await refusesToStart(t, { REDIS_URL: `rediss://127.0.0.1:${tlsRedis.port}`, REDIS_CA_FILE: otherCaFile }, 'REDIS_CA_FILE');
  assert.ok(message.includes(`REDIS_CA_FILE=${otherCaFile}`), message);
});

test('Redis down at start is not a refusal: the cluster starts, and counts once Redis answers', async () => {
  const port = await freePort();
  const password = 'Zq9-down';
  const cluster = await startCluster({ REDIS_URL: `redis://:${password}@127.0.0.1:${port}`, WORKERS: '1', HEARTBEAT_MS: '500', DRAIN_MS: '200' });
  let server: RedisProcess | undefined;
  try {
    const warning = cluster.logs.find((l) => l.msg.startsWith('could not check access to Redis'));
    assert.equal(warning?.redis, `redis://:***@127.0.0.1:${port}`);
    await cluster.waitForLog((l) => l.msg === 'redis unreachable', 'the outage warning');
    const stream = openSse(cluster.port);
    await stream.waitForText('retry:');
    // Redis comes up with another password: the running cluster says so, and keeps serving.
    server = await startRedisProcess(['--port', String(port), '--requirepass', 'Zq9-other']);
    const refused = await cluster.waitForLog((l) => l.level === 50 && l.msg.includes('refused the user name or password in REDIS_URL'), 'the refusal, at run time');
    assert.equal(refused.variable, 'REDIS_URL');
    assert.ok(!stream.isClosed());
    await server.stop();
    // With the right one, the count arrives: ioredis sends AUTH again on each reconnect.
    server = await startRedisProcess(['--port', String(port), '--requirepass', password]);
    const admin = await adminClient({ port, password });
    try {
      await waitFor(async () => (await admin.get('connections')) === '1', { what: 'the count once Redis answers' });
    } finally {
      admin.disconnect();
    }
    stream.close();
    assert.ok(!everything(cluster).includes(MARK), `a password in the logs:\n${everything(cluster)}`);
  } finally {
    await cluster.stop();
    await server?.stop();
  }
});

test('under pm2, exit 78 is final: with stop_exit_codes pm2 does not restart the app', async (t) => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'msse-pm2-'));
  const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');
  const env = {
    ...process.env,
    PM2_HOME: home,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    WORKERS: '1',
    REDIS_URL: `redis://:${secret('Zq9-wrong')}@127.0.0.1:${authRedis.port}`,
  };
  const pm2 = (...args: string[]) => run(PM2, args, { cwd: ROOT, env, timeout: 60_000 });
  t.after(async () => {
    await pm2('kill').catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });
  await pm2('start', 'ecosystem.config.cjs');
  type App = { pid: number; pm2_env: { status: string; restart_time: number; exit_code?: number; restart_delay?: number } };
  const app = async (): Promise<App | undefined> => (JSON.parse((await pm2('jlist')).stdout) as App[])[0];
  await waitFor(async () => (await app())?.pm2_env.exit_code === EX_CONFIG, { what: 'pm2 to see exit 78', timeoutMs: 20_000 });
  // pm2 zeroes the pid of an app it will not restart (God.handleExit). It
  // still shows restart_delay's 'waiting restart' status, so the proof that
  // no restart comes is that none has come after a few restart delays: a
  // non-event, which has nothing to wait for but time.
  const exited = await app();
  assert.equal(exited?.pid, 0);
  await sleep(3 * (exited?.pm2_env.restart_delay ?? 1_000));
  const later = await app();
  assert.equal(later?.pm2_env.restart_time, 0);
  assert.equal(later?.pid, 0);
  t.diagnostic(`pm2 status after exit 78: ${later?.pm2_env.status}`);
});

test('REDIS_CA_FILE is checked at config load: it must exist, be readable, hold a PEM certificate, and go with rediss://', async () => {
  const rediss = 'rediss://127.0.0.1:6380';
  const notPem = path.join(dir, 'not-a-certificate.txt');
  await writeFile(notPem, 'hello\n');
  const folder = path.join(dir, 'a-folder');
  await mkdir(folder, { recursive: true });
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_URL: rediss, REDIS_CA_FILE: path.join(dir, 'nope.pem') }, /^REDIS_CA_FILE=".*nope\.pem" is not valid: expected a readable file .*\(ENOENT\)/],
    [{ REDIS_URL: rediss, REDIS_CA_FILE: folder }, /^REDIS_CA_FILE=".*a-folder" is not valid: .*\(EISDIR\)/],
    [{ REDIS_URL: rediss, REDIS_CA_FILE: notPem }, /^REDIS_CA_FILE=".*not-a-certificate\.txt" is not valid: expected a PEM file/],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CA_FILE: caFile }, /^REDIS_CA_FILE=".*" is not valid: expected to be set only with a rediss:\/\/ \(TLS\) REDIS_URL/],
    [{ REDIS_CA_FILE: caFile }, /^REDIS_CA_FILE=".*" is not valid: expected to be set only with a rediss:\/\//],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && err.variable === 'REDIS_CA_FILE' && message.test(err.message),
      JSON.stringify(env),
    );
  }
  const config = loadConfig({ REDIS_URL: rediss, REDIS_CA_FILE: caFile });
  assert.equal(config.redisCaFile, caFile);
  assert.equal(config.redisCa, await readFile(caFile, 'utf8'));
  assert.equal(loadConfig({}).redisCa, undefined);
});

test('a missing REDIS_CA_FILE stops the primary with exit 1 and a message naming it', async () => {
  const primary = runPrimary({ REDIS_URL: 'rediss://127.0.0.1:6380', REDIS_CA_FILE: path.join(dir, 'nope.pem'), WORKERS: '1' });
  assert.equal((await primary.exited).code, 1);
  const fatal = primary.logs.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1);
  assert.match(fatal[0]!.msg, /^REDIS_CA_FILE=".*nope\.pem" is not valid/);
});

test('a REDIS_URL that is not valid is reported without its password', () => {
  assert.throws(
    () => loadConfig({ REDIS_URL: 'http://:Zq9-secret@127.0.0.1:6379' }),
    (err: unknown) => err instanceof ConfigError && !err.message.includes(MARK) && !err.value.includes(MARK) && err.message.includes('http://:***@127.0.0.1:6379'),
  );
  assert.throws(
    () => loadConfig({ REDIS_URL: 'redis://:Zq9/with#slash@127.0.0.1:notaport' }),
    (err: unknown) => err instanceof ConfigError && !err.message.includes(MARK) && !err.value.includes(MARK),
  );
});

test('redactUrl masks the password and keeps the rest', () => {
  assert.equal(redactUrl('redis://:secret@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
  assert.equal(redactUrl('rediss://user:p%40ss@redis.example:6380/2'), 'rediss://user:***@redis.example:6380/2');
  assert.equal(redactUrl('redis://user:a/b#c@host:1'), 'redis://user:***@host:1');
  assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.equal(redactUrl('redis://user@127.0.0.1:6379'), 'redis://user@127.0.0.1:6379');
});

test('redis.conf binds loopback only, with protected mode on', async () => {
  const port = await freePort();
  const server = await startRedisProcess(['--port', String(port)]);
  const client = await adminClient({ port });
  try {
    const [, bind] = (await client.config('GET', 'bind')) as [string, string];
    const [, protectedMode] = (await client.config('GET', 'protected-mode')) as [string, string];
    assert.deepEqual(bind.split(/\s+/).map((a) => a.replace(/^-/, '')).sort(), ['127.0.0.1', '::1']);
    assert.equal(protectedMode, 'yes');
  } finally {
    client.disconnect();
    await server.stop();
  }
});
