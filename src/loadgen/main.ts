#!/usr/bin/env node
// Entry point of the load generator: `million-sse-loadgen`, or
// `npm run loadgen -- --url ...`. It validates the flags, plans the processes
// and hands over to the coordinator; --help is in cli.ts.
import { ConfigError } from '../errors.js';
import { openFileLimit } from '../config/open-file-limit.js';
import { parseCli, USAGE } from './cli.js';
import { runCoordinator } from './coordinator.js';
import { checkEngineBuilt } from './engine.js';
import { planProcesses } from './process-plan.js';

const NAME = 'million-sse-loadgen';

function usageError(message: string): never {
  process.stderr.write(`${NAME}: ${message}\nRun ${NAME} --help for the flags.\n`);
  process.exit(2);
}

function isParseArgsError(err: unknown): err is Error {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code!.startsWith('ERR_PARSE_ARGS');
}

let parsed;
let shares;
try {
  parsed = parseCli(process.argv.slice(2), process.stderr.isTTY === true);
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  checkEngineBuilt(parsed.options.engine);
  shares = planProcesses(parsed.options, openFileLimit());
} catch (err) {
  if (err instanceof ConfigError || isParseArgsError(err)) usageError(err.message);
  throw err;
}

runCoordinator(parsed.options, shares, { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
