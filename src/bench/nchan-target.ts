// nginx with the nchan module as a benchmark target (--compare nchan): the
// best C implementation of the same job, configured for it. One worker per
// benchmark worker, each allowed ~19,000 connections (the open-file limit);
// an EventSource subscriber location whose channel is the `match` parameter,
// a publisher location on the same channel, and nchan's own ping as the
// heartbeat. Its count of subscribers comes from nchan_stub_status.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { started } from './server-under-test.js';
import { childrenOf } from './proc-sampler.js';
import type { Target, TargetOptions } from './targets.js';

const NGINX = '/usr/sbin/nginx';
// Debian's libnginx-mod-nchan puts the module in one of these.
const MODULES = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'];
const WORKER_CONNECTIONS = 19_000;
const START_TIMEOUT_MS = 10_000;
const STATUS_EVERY_MS = 1_000;

/** Why nchan cannot run here, or undefined. */
export function nchanMissing(): string | undefined {
  if (!existsSync(NGINX)) return `${NGINX} is missing (Debian: apt-get install nginx-light libnginx-mod-nchan)`;
  if (!MODULES.some((m) => existsSync(m))) return `the nchan module is missing from ${MODULES.join(' and ')} (Debian: apt-get install libnginx-mod-nchan)`;
  return undefined;
}

function config(dir: string, options: TargetOptions, module: string): string {
  // nchan's ping interval is in whole seconds.
  const pingSeconds = Math.max(1, Math.round(options.heartbeatMs / 1000));
  const temp = (name: string): string => path.join(dir, 'tmp', name);
  return `load_module ${module};
worker_processes ${options.workers};
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
daemon off;
worker_rlimit_nofile ${WORKER_CONNECTIONS + 1000};
events { worker_connections ${WORKER_CONNECTIONS}; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen 127.0.0.1:${options.port} reuseport backlog=65535;
    location = /.well-known/mercure {
      nchan_subscriber eventsource;
      nchan_channel_id $arg_match;
      nchan_eventsource_ping_interval ${pingSeconds};
    }
    location = /pub {
      nchan_publisher;
      nchan_channel_id $arg_match;
      nchan_message_buffer_length 100;
    }
    location = /nchan_status { nchan_stub_status; }
    location = /ping { return 204; }
  }
}
`;
}

function subscribers(url: string): Promise<number | null> {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: STATUS_EVERY_MS }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.once('end', () => resolve(Number(/^subscribers: (\d+)$/m.exec(body)?.[1] ?? Number.NaN)));
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(null));
  });
}

export async function startNchan(options: TargetOptions, work: string): Promise<Target> {
  const missing = nchanMissing();
  if (missing !== undefined) throw new Error(`--compare nchan: ${missing}`);
  const dir = path.join(work, 'nchan');
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, config(dir, options, MODULES.find((m) => existsSync(m))!));
  const child = spawn(NGINX, ['-c', file, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(options.log, { end: false });
  child.stderr?.pipe(options.log, { end: false });
  const server = started(child);
  const base = `http://127.0.0.1:${options.port}`;
  let count: number | null = -1;
  let polling = true;
  // The count, once a second, in the background: Target.connections() is read synchronously.
  const poll = (async () => {
    while (polling) {
      const value = await subscribers(`${base}/nchan_status`);
      if (value !== null && !Number.isNaN(value)) count = value;
      await sleep(STATUS_EVERY_MS);
    }
  })();
  const stop = async (): Promise<void> => {
    polling = false;
    await server.stop('SIGTERM');
    await poll;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (count === -1) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx with nchan did not start: ${readLog(path.join(dir, 'error.log'))}`);
    }
    await sleep(100);
  }
  return {
    name: 'nchan',
    streamUrl: `${base}/.well-known/mercure`,
    hubUrl: `${base}/.well-known/mercure`,
    publishRoute: () => ({ kind: 'nchan', url: `${base}/pub` }),
    pingUrl: new URL('/ping', base),
    pids: () => ({ 'nginx-master': server.pid, ...Object.fromEntries(childrenOf(server.pid).map((pid, i) => [`nginx-worker-${i + 1}`, pid])) }),
    connections: () => count,
    // nchan does not count its pings.
    heartbeatsWritten: () => 0,
    workerSeconds: () => [],
    stop,
  };
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' / ');
  } catch {
    return '(no error log)';
  }
}
