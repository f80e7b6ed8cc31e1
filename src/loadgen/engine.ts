// The two client engines, and how the coordinator starts one client process
// of either. Both take the same start message (the ClientPlan) over the same
// IPC channel and answer with the same progress and result messages, so the
// coordinator's logic is one for both:
//  - node: client-process.js, forked; the default;
//  - c: million-sse-client, built from native/loadgen-client/ by
//    `npm run build` when a C compiler is present, and spawned. It holds a
//    connection in tens of bytes and reads heartbeats in batches (see
//    docs/loadgen.md, "The C engine").
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { C_ENGINE_BINARY, cEngineBuilt, cEngineMissing } from './c-engine.js';

export const ENGINES = ['node', 'c'] as const;
export type Engine = (typeof ENGINES)[number];

// Resolved from this file's own location, so it works from dist/ wherever the package is installed.
const CLIENT_SCRIPT = fileURLToPath(new URL('./client-process.js', import.meta.url));

// Flags for the Node engine's processes, each measured on 5,000 held connections:
// --max-semi-space-size=1 (MiB): V8's young generation otherwise grows to
//   3 x 16 MiB; a client allocates little once its connections are open, so a
//   small one costs nothing and saves about 1.7 KB a connection at 5,000.
// --expose-gc and --compact-on-every-full-gc: the one full collection after
//   the ramp (see client-process.ts) also compacts the old space, which the
//   ramp's short-lived objects leave fragmented: about 0.8 KB a connection.
const CLIENT_FLAGS = ['--max-semi-space-size=1', '--expose-gc', '--compact-on-every-full-gc'];

/** An --engine value; `flag` names it in the error (the benchmark has its own). */
export function parseEngine(raw: string | undefined, flag = '--engine'): Engine {
  if (raw === undefined) return 'node';
  const value = raw.trim();
  if (!(ENGINES as readonly string[]).includes(value)) throw new ConfigError(flag, raw, `one of ${ENGINES.join(', ')}`);
  return value as Engine;
}

/** Fails, saying how to get it, when the C engine is asked for and was not built. */
export function checkEngineBuilt(engine: Engine, binary = C_ENGINE_BINARY, flag = '--engine'): void {
  if (engine === 'c' && !cEngineBuilt(binary)) throw new ConfigError(flag, engine, `a built C engine, but ${cEngineMissing(binary)}`);
}

/** Starts one client process with an IPC channel; it then waits for its start message. */
export function startClient(engine: Engine): ChildProcess {
  if (engine === 'node') return fork(CLIENT_SCRIPT, [], { execArgv: CLIENT_FLAGS, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Node names the channel's descriptor in NODE_CHANNEL_FD; the engine speaks JSON lines on it.
  return spawn(C_ENGINE_BINARY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
}
