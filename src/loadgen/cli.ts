// The command line: flags in, validated options out, and the --help text.
import { parseArgs } from 'node:util';
import { DEFAULTS, MAX_BATCH_MS, toOptions, type LoadgenOptions, type RawOptions } from './options.js';

export const USAGE = `Usage: million-sse-loadgen --url URL [flags]

Opens many Server-Sent-Events connections to URL at a paced rate, holds them,
checks the heartbeats that arrive, then closes them and writes a JSON report.

  --url URL                 the SSE stream, http:// only (required)
  --connections N           connections to open (default ${DEFAULTS.connections})
  --rate R                  connection attempts per second, over all processes;
                            0 = as fast as --max-pending allows (default ${DEFAULTS.rate})
  --sources LIST            source addresses to bind, spread evenly:
                            127.0.1.1-127.0.1.250, 127.0.1.1-250, or a,b,c
                            (default: the OS picks; one address gets ~28k ports)
  --hold S                  seconds to hold once every connection is open or
                            has failed (default ${DEFAULTS.holdSeconds})
  --duration S              hard cap on the whole run, ramp included
                            (default: twice the ramp + timeout + hold + 120 s)
  --id ID                   this client's name in a fleet (default: host name)
  --heartbeat-ms MS         the interval the server promises; a silence longer
                            than MS + 1000 counts as late; 0 = no check
                            (default ${DEFAULTS.heartbeatMs})
  --max-pending N           connection attempts in flight at once (default ${DEFAULTS.maxPending})
  --connect-timeout-ms MS   from attempt to response head (default ${DEFAULTS.connectTimeoutMs})
  --reconnect               reopen streams the server ends (counted as reconnects)
  --processes N             client processes (default: as few as the open-file
                            limit allows, read from /proc/self/limits)
  --max-per-process N       connections per process (default: limit - 100)
  --header "Name: value"    an extra request header; may be repeated
  --report PATH             the JSON report (default loadgen-report-ID.json)
  --progress-ms MS          progress interval on stderr; 0 = none
  --progress-json           progress as one JSON object a line (phase, totals,
                            rates), for a program that drives the run
                            (default ${DEFAULTS.progressMsTty} on a terminal, ${DEFAULTS.progressMsPlain} otherwise)
  --engine node|c           the client processes: node (default) or c, the C
                            engine built by npm run build when cc is present:
                            tens of bytes a connection, heartbeats read in batches
  --batch-ms MS             with --engine c: ramp and hold alike, read every
                            MS ms (gaps are measured to within MS); 0 = on
                            every event (default ${DEFAULTS.batchMs}, at most ${MAX_BATCH_MS})
  --measure-after S         count heartbeat gaps and late heartbeats afresh S
                            seconds after the ramp is done, leaving the ramp
                            out of them (default: over the whole run)
  --measure-for S           stop counting them S seconds after that (after the
                            ramp without --measure-after), so that what comes
                            later (a probe, the stop) stays out (default: to
                            the end)
  --topics T                subscribe through Mercure: each client adds
                            match=https://bench.test/t/<i> to the URL, i being
                            its connection number mod T (1 = a broadcast)
  -h, --help                this text

Updates: an event whose first data line starts with its publish time in ms
since the epoch (\`data: 1796287070662 ...\`) is an update; the number that
ends its id is its sequence number. The report counts updates received,
duplicates, out-of-order and skipped sequence numbers per connection, and the
delivery latency (publish time to read) in the gaps' histogram.

Exit status: 0 when the run ended (after the hold, at --duration, or on the
first SIGINT/SIGTERM) and every process reported; 1 when a client process was
lost or on a second signal; 2 for a bad flag.
`;

export type CliResult = { kind: 'help' } | { kind: 'run'; options: LoadgenOptions };

/** Throws a ConfigError for a bad value, or parseArgs' own error for an unknown flag. */
export function parseCli(argv: string[], isTTY: boolean): CliResult {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      sources: { type: 'string' },
      hold: { type: 'string' },
      duration: { type: 'string' },
      id: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'max-pending': { type: 'string' },
      'connect-timeout-ms': { type: 'string' },
      reconnect: { type: 'boolean' },
      processes: { type: 'string' },
      'max-per-process': { type: 'string' },
      header: { type: 'string', multiple: true },
      report: { type: 'string' },
      'progress-ms': { type: 'string' },
      engine: { type: 'string' },
      'batch-ms': { type: 'string' },
      'measure-after': { type: 'string' },
      'measure-for': { type: 'string' },
      topics: { type: 'string' },
      'progress-json': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return { kind: 'help' };
  return { kind: 'run', options: toOptions(values as RawOptions, isTTY) };
}
