#!/usr/bin/env node
// `npm run bench -- --connections N [--hold S] [--quick]`
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BENCH_USAGE, parseBenchArgs } from './options.js';
import { applyTuning, runBench, workersFor } from './run-bench.js';
import { runOnHosts } from './hosts-network.js';
import { INDEX_HEADER, consistencyProblems, indexRow, markdownTable } from './bench-result.js';
import { writeChart } from './chart.js';
import { NetnsError, bucketsFor, ehashBuckets, runInNetns } from './netns-host.js';
import { benchNamespace } from '../config/bench-env.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

const MAX_SAMPLES_WRITTEN = 600;

function thin<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]!);
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  if (benchNamespace() === undefined && options.hosts !== undefined) {
    if (options.tune) await applyTuning((line) => log(`host ${line}`));
    const plan = {
      hosts: options.hosts,
      workersPerHost: workersFor(options),
      connections: options.connections,
      heartbeatMs: options.heartbeatMs,
      direct: options.direct,
      ehashBuckets: bucketsFor(options.connections),
      env: {},
    };
    // The whole run happens in the load host, from where HAProxy and the app hosts are reached.
    return runOnHosts([process.execPath, ...process.execArgv, ...process.argv.slice(1)], plan, log);
  }
  if (benchNamespace() === undefined) {
    const needed = bucketsFor(options.connections);
    const host = ehashBuckets();
    const netns = options.netns ?? (host !== null && host.buckets < needed);
    if (netns) {
      if (options.tune) await applyTuning((line) => log(`host ${line}`));
      // The whole run, this process included (it follows the status feed and
      // probes /ping), happens inside; results land in the same folder.
      return runInNetns([process.execPath, ...process.execArgv, ...process.argv.slice(1)], needed, log);
    }
  }
  const result = await runBench(options, log);
  const problems = consistencyProblems(result);
  const stem = `${result.date.slice(0, 19).replace(/[:T]/g, '-')}-${options.connections}`;
  await mkdir(options.outDir, { recursive: true });
  const jsonFile = path.join(options.outDir, `${stem}.json`);
  // Every figure was derived from every sample; the file keeps an even subset
  // of a long hold's samples (an hour at 60 processes would be megabytes).
  const samples = thin(result.samples, MAX_SAMPLES_WRITTEN);
  await writeFile(jsonFile, `${JSON.stringify({ ...result, samples, samplesTaken: result.samples.length, problems }, null, 2)}\n`);
  const table = markdownTable(result);
  await writeFile(path.join(options.outDir, `${stem}.md`), `# million-sse benchmark, ${result.date}\n\n${table}\n`);
  const index = path.join(options.outDir, 'index.md');
  const existing = await readFile(index, 'utf8').catch(() => '');
  if (existing === '') await writeFile(index, `# Benchmark runs\n\n${INDEX_HEADER}\n`);
  await appendFile(index, `${indexRow(result, `${stem}.json`)}\n`);
  process.stdout.write(`${table}\n\nresult: ${jsonFile}\n`);
  if (!options.quick) {
    const charts = await writeChart(options.outDir).catch((err: unknown) => {
      log(`chart not drawn: ${(err as Error).message}`);
      return [];
    });
    if (charts.length > 0) log(`chart: ${charts.join(', ')}`);
  }
  if (problems.length > 0) {
    process.stderr.write(`the run is not self-consistent:\n- ${problems.join('\n- ')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A namespace that cannot be made is the operator's to fix, not a bug: no stack.
    const text = err instanceof NetnsError ? err.message : ((err as Error).stack ?? String(err));
    process.stderr.write(`bench failed: ${text}\n`);
    process.exit(1);
  },
);
