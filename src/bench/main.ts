#!/usr/bin/env node
// `npm run bench -- --connections N [--hold S] [--quick]`
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BENCH_USAGE, parseBenchArgs } from './options.js';
import { runBench } from './run-bench.js';
import { INDEX_HEADER, consistencyProblems, indexRow, markdownTable } from './bench-result.js';
import { writeChart } from './chart.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

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
  const result = await runBench(options, log);
  const problems = consistencyProblems(result);
  const stem = `${result.date.slice(0, 19).replace(/[:T]/g, '-')}-${options.connections}`;
  await mkdir(options.outDir, { recursive: true });
  const jsonFile = path.join(options.outDir, `${stem}.json`);
  await writeFile(jsonFile, `${JSON.stringify({ ...result, problems }, null, 2)}\n`);
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
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
