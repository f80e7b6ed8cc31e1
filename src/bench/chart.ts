// Draws memory per connection and heartbeat gaps against N, from every result
// in the results folder, as bench/results/chart.png. The chart is an SVG built
// here and rasterised by headless Chromium (Debian's, through playwright-core),
// so the benchmark needs no charting or image library of its own.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BenchResult } from './bench-result.js';

const CHROMIUM = '/usr/bin/chromium';

interface Point {
  n: number;
  serverBytes: number;
  kernelBytes: number;
  gapP50: number;
  gapP99: number;
  gapMax: number;
  interval: number;
}

/** The share of N a run must have held to be a point on the curve. */
const NEARLY_ALL = 0.95;

export async function latestPerN(outDir: string): Promise<Point[]> {
  const byN = new Map<number, Point & { date: string }>();
  for (const file of (await readdir(outDir)).filter((f) => /^\d{4}-.*\.json$/.test(f))) {
    const result = JSON.parse(await readFile(path.join(outDir, file), 'utf8')) as BenchResult & { problems?: string[] };
    // Quick runs, ramps that stalled far short and --compare runs (one
    // worker) are not points on the curve, and neither are runs from before
    // the settle window (no `settleSeconds`): their hold included the ramp's
    // garbage collection; nor runs whose heartbeat gaps covered the ramp too
    // (no `measuredFrom`), nor runs through HAProxy across several hosts
    // (--hosts): another curve. A run that held nearly all of N (a million's
    // ramp on a saturated machine) is a point, at the number it held.
    if (result.settings.quick || result.comparison || result.settings.hosts || result.established < NEARLY_ALL * result.settings.connections) continue;
    if (result.settings.settleSeconds === undefined || result.heartbeats.measuredFrom === undefined) continue;
    const n = result.settings.connections;
    const previous = byN.get(n);
    if (previous !== undefined && previous.date > result.date) continue;
    byN.set(n, {
      n: result.established,
      date: result.date,
      serverBytes: result.memory.serverBytesPerConnection,
      kernelBytes: result.memory.kernelSlabBytesPerConnection,
      gapP50: (result.heartbeats.gapMs.p50 ?? 0) / 1000,
      gapP99: (result.heartbeats.gapMs.p99 ?? 0) / 1000,
      gapMax: (result.heartbeats.gapMs.max ?? 0) / 1000,
      interval: result.heartbeats.expectedIntervalMs / 1000,
    });
  }
  return [...byN.values()].sort((a, b) => a.n - b.n);
}

function panel(
  points: Point[],
  series: Array<{ label: string; color: string; value: (p: Point) => number }>,
  box: { x: number; y: number; w: number; h: number },
  title: string,
  unit: string,
  reference?: { label: string; value: number },
): string {
  const xs = points.map((p) => Math.log10(p.n));
  const xMin = Math.min(...xs) - 0.1;
  const xMax = Math.max(...xs) + 0.1;
  const values = points.flatMap((p) => series.map((s) => s.value(p))).concat(reference ? [reference.value] : []);
  const yMax = Math.max(...values) * 1.15 || 1;
  const yMin = unit === 's' ? Math.max(0, Math.min(...values) - 1) : 0;
  const px = (n: number): number => box.x + ((Math.log10(n) - xMin) / (xMax - xMin)) * box.w;
  const py = (v: number): number => box.y + box.h - ((v - yMin) / (yMax - yMin)) * box.h;
  let svg = `<text x="${box.x}" y="${box.y - 14}" font-size="16" font-weight="bold">${title}</text>`;
  svg += `<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#999"/>`;
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    svg += `<line x1="${box.x}" x2="${box.x + box.w}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`;
    svg += `<text x="${box.x - 6}" y="${py(v) + 4}" font-size="11" text-anchor="end">${unit === 's' ? v.toFixed(2) : Math.round(v).toLocaleString('en-US')} ${unit}</text>`;
  }
  for (const p of points) svg += `<text x="${px(p.n)}" y="${box.y + box.h + 16}" font-size="11" text-anchor="middle">${p.n.toLocaleString('en-US')}</text>`;
  if (reference) svg += `<line x1="${box.x}" x2="${box.x + box.w}" y1="${py(reference.value)}" y2="${py(reference.value)}" stroke="#888" stroke-dasharray="4 4"/><text x="${box.x + box.w - 4}" y="${py(reference.value) - 4}" font-size="11" text-anchor="end" fill="#666">${reference.label}</text>`;
  series.forEach((s, i) => {
    const path = points.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.n).toFixed(1)},${py(s.value(p)).toFixed(1)}`).join(' ');
    svg += `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`;
    for (const p of points) svg += `<circle cx="${px(p.n)}" cy="${py(s.value(p))}" r="3.5" fill="${s.color}"/>`;
    svg += `<rect x="${box.x + 10}" y="${box.y + 10 + i * 18}" width="12" height="12" fill="${s.color}"/><text x="${box.x + 28}" y="${box.y + 20 + i * 18}" font-size="12">${s.label}</text>`;
  });
  return svg;
}

export function chartSvg(points: Point[]): string {
  const width = 1000;
  const height = 420;
  const memory = panel(
    points,
    [
      { label: 'server user space (primary + workers + Redis)', color: '#d9480f', value: (p) => p.serverBytes },
      { label: 'kernel slab (both ends of each socket)', color: '#1971c2', value: (p) => p.kernelBytes },
    ],
    { x: 80, y: 50, w: 380, h: 300 },
    'Memory per held connection',
    'B',
    { label: 'target: 3 KB user space', value: 3072 },
  );
  const gaps = panel(
    points,
    [
      { label: 'gap p50', color: '#2f9e44', value: (p) => p.gapP50 },
      { label: 'gap p99', color: '#e8590c', value: (p) => p.gapP99 },
      { label: 'gap max', color: '#c2255c', value: (p) => p.gapMax },
    ],
    { x: 580, y: 50, w: 380, h: 300 },
    'Heartbeat gap seen by clients',
    's',
    points[0] ? { label: `interval ${points[0].interval} s`, value: points[0].interval } : undefined,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/>${memory}${gaps}<text x="${width / 2}" y="${height - 12}" font-size="12" text-anchor="middle">connections held (log scale), million-sse benchmark on one machine, load generator included</text></svg>`;
}

/** Writes chart.svg and, where Chromium is installed, chart.png. Returns the files written. */
export async function writeChart(outDir: string): Promise<string[]> {
  const points = await latestPerN(outDir);
  if (points.length === 0) return [];
  const svg = chartSvg(points);
  const svgFile = path.join(outDir, 'chart.svg');
  await writeFile(svgFile, svg);
  if (!existsSync(CHROMIUM)) return [svgFile];
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 420 } });
    await page.setContent(`<body style="margin:0">${svg}</body>`);
    const pngFile = path.join(outDir, 'chart.png');
    await page.screenshot({ path: pngFile });
    return [svgFile, pngFile];
  } finally {
    await browser.close();
  }
}
