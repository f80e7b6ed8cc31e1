// The status dashboard. It listens to GET /status_watcher (one JSON event a
// second, see src/status/status-snapshot.ts), times one GET /ping a second from
// this browser, and keeps 15 minutes of both in memory for the charts, so the
// history outlives a server restart for as long as the tab stays open.
import { formatBytes, formatCount, formatMs, formatRate, formatShare, summarize } from './status-format.js';

const FEED_URL = '/status_watcher';
const PING_URL = '/ping';
const HISTORY_S = 15 * 60;
const PING_EVERY_MS = 1_000;
const PING_WINDOW = 60;
const PING_TIMEOUT_MS = 5_000;
// The feed sends an event every second; five missed ones mean it is gone even
// if no socket error says so (a suspended laptop, a proxy holding the stream).
const STALE_AFTER_MS = 5_000;
const RECONNECT_MS = 1_000;
// The server's STATUS_TOKEN, once typed, is kept for this tab only: a reload
// keeps it, closing the tab forgets it.
const TOKEN_KEY = 'million-sse-status-token';

const $ = (id) => document.getElementById(id);
const nowSeconds = () => Date.now() / 1000;

function plural(n, word) {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------- charts

const css = getComputedStyle(document.documentElement);
const themeColor = (name, fallback) => css.getPropertyValue(name).trim() || fallback;

// Whole seconds and up: a chart of the first few seconds would otherwise tick at :13.500.
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900];
// Whole connections: 1, 2, 5, 10, 20, 50 … never 0.2 of a connection.
const COUNT_INCRS = Array.from({ length: 30 }, (_, i) => [1, 2, 5][i % 3] * 10 ** Math.floor(i / 3));
// Whole binary sizes (64 MiB, 128 MiB), not 95.4 MiB.
const BYTE_INCRS = Array.from({ length: 41 }, (_, i) => 2 ** i);

/** One chart and its last 15 minutes of points. */
class History {
  constructor(figureId, series, formatAxis, incrs) {
    this.figure = $(figureId);
    this.columns = [[], ...series.map(() => [])];
    this.plot = null;
    if (typeof uPlot !== 'function') return; // The figures still work without charts.
    const box = this.figure.querySelector('.plot');
    // Canvas text does not follow CSS: size it from the root font, which grows on a wall screen.
    const font = `${Math.round(parseFloat(css.fontSize) * 0.75)}px system-ui, sans-serif`;
    const axis = {
      font,
      stroke: themeColor('--muted', '#999'),
      grid: { stroke: themeColor('--grid', '#333'), width: 1 },
      ticks: { stroke: themeColor('--grid', '#333'), width: 1 },
    };
    this.plot = new uPlot(
      {
        ...this.size(box.clientWidth),
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            fill: s.fill,
            width: 2,
            value: (_u, v) => (v == null ? '–' : formatAxis(v)),
          })),
        ],
        axes: [{ ...axis, incrs: TIME_INCRS }, { ...axis, size: Math.round(parseFloat(css.fontSize) * 4.5), incrs, values: (_u, splits) => splits.map(formatAxis) }],
        // Counts, bytes and milliseconds all start at 0: a chart that zooms in
        // on its own minimum makes a 1 % wobble look like a collapse.
        scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      },
      this.columns,
      box,
    );
    new ResizeObserver(([entry]) => this.plot.setSize(this.size(entry.contentRect.width))).observe(box);
  }

  size(width) {
    return { width: Math.max(200, Math.floor(width)), height: Math.round(Math.min(320, Math.max(160, width * 0.45))) };
  }

  push(x, values) {
    const xs = this.columns[0];
    // Points must move forward in time even if the clock steps back.
    const at = xs.length > 0 ? Math.max(x, xs[xs.length - 1] + 0.001) : x;
    xs.push(at);
    values.forEach((v, i) => this.columns[i + 1].push(v));
    let old = 0;
    while (old < xs.length && xs[old] < at - HISTORY_S) old++;
    if (old > 0) for (const column of this.columns) column.splice(0, old);
    this.figure.dataset.points = String(this.columns[1].filter((v) => v != null).length);
    this.plot?.setData(this.columns);
  }

  /** A null point, so the line breaks where the data stopped instead of bridging the outage. */
  gap(x) {
    const last = this.columns[1][this.columns[1].length - 1];
    if (last != null) this.push(x, this.columns.slice(1).map(() => null));
  }
}

const charts = {
  connections: new History(
    'chart-connections',
    [{ label: 'Connections', stroke: '#f77f00', fill: 'rgba(247, 127, 0, 0.12)' }],
    formatCount,
    COUNT_INCRS,
  ),
  memory: new History(
    'chart-memory',
    [
      { label: 'Cluster RSS', stroke: '#0fa3b1' },
      { label: 'Workers’ heap', stroke: '#8e5bd6' },
    ],
    formatBytes,
    BYTE_INCRS,
  ),
  ping: new History(
    'chart-ping',
    [
      { label: 'Ping', stroke: '#e63946' },
      { label: 'Median of 60', stroke: '#2a9d8f' },
    ],
    formatMs,
  ),
};

// ---------------------------------------------------------------- the feed

function setLink(state) {
  if (document.body.dataset.link === state) return;
  document.body.dataset.link = state;
  $('link').textContent = {
    connecting: 'Connecting…',
    live: 'Live',
    disconnected: 'Disconnected: reconnecting…',
    token: 'Waiting for the status token',
  }[state];
  if (state === 'disconnected') {
    charts.connections.gap(nowSeconds());
    charts.memory.gap(nowSeconds());
  }
}

function render(s) {
  const redisUp = s.redis === 'up';
  // While Redis is down the cluster-wide count is unknown; this host's own is not.
  const count = s.connections ?? s.host.connections;
  $('connections').textContent = formatCount(count);
  document.title = `${formatCount(count)} connections · million-sse`;
  if (!redisUp) {
    $('count-behind').textContent = `This host only, from ${plural(s.workers, 'worker')}: Redis is unreachable.`;
  } else if (s.hosts > 1) {
    $('count-behind').textContent = `On ${plural(s.hosts, 'host')}; this host’s ${plural(s.workers, 'worker')} hold ${formatCount(s.host.connections)}.`;
  } else {
    $('count-behind').textContent = `Held by ${plural(s.workers, 'worker')} on ${plural(s.hosts ?? 1, 'host')}.`;
  }

  $('rate-connects').textContent = formatRate(s.rates.connects);
  $('rate-disconnects').textContent = formatRate(s.rates.disconnects);
  $('rate-pings').textContent = formatRate(s.rates.pings);
  $('rate-heartbeats').textContent = formatRate(s.rates.heartbeats);
  $('rate-dropped').textContent = formatRate(s.rates.dropped);
  $('hub-subscribers').textContent = formatCount(s.hub.subscribers);
  $('hub-published').textContent = formatRate(s.rates.published);
  $('hub-deliveries').textContent = formatRate(s.rates.deliveries);
  $('hub-fan-out').textContent = formatMs(s.hub.fanOutMs);
  $('hub-history').textContent = s.hub.historyLength === null ? 'unknown (Redis unreachable)' : formatCount(s.hub.historyLength);
  const t = s.totals;
  $('totals').textContent =
    `Totals since the workers started: ${formatCount(t.opened)} opened, ${formatCount(t.closed)} closed, ` +
    `${formatCount(t.dropped)} dropped, ${formatCount(t.heartbeats)} heartbeats, ${formatCount(t.pings)} pings.`;

  const { cores, loadavg, rss, totalmem, freemem } = s.host;
  $('load-1').replaceChildren(loadavg[0].toFixed(2), ' ', small(`on ${plural(cores, 'core')}`));
  setMeter($('load-meter'), loadavg[0], cores);
  $('load-5-15').textContent = `${loadavg[1].toFixed(2)} / ${loadavg[2].toFixed(2)}`;
  $('mem-cluster').replaceChildren(formatBytes(rss), ' ', small(`of ${formatBytes(totalmem)}`));
  setMeter($('mem-meter'), rss, totalmem);
  $('mem-free').textContent = formatBytes(freemem);
  $('redis').textContent = redisUp ? 'Reachable' : 'Unreachable';
  $('redis').dataset.state = redisUp ? 'up' : 'down';

  $('workers').replaceChildren(...s.perWorker.map((w) => workerRow(w, s.host.connections)));
  renderHosts(s);

  $('host-id').textContent = s.host.id;
  const updated = new Date(s.ts);
  $('updated').dateTime = updated.toISOString();
  $('updated').textContent = updated.toLocaleTimeString();

  const x = nowSeconds();
  charts.connections.push(x, [count]);
  charts.memory.push(x, [rss, s.perWorker.reduce((sum, w) => sum + w.heapUsed, 0)]);
}

function small(text) {
  const element = document.createElement('small');
  element.textContent = text;
  return element;
}

function setMeter(meter, value, max) {
  meter.max = max;
  meter.low = max * 0.7;
  meter.high = max * 0.9;
  meter.value = Math.min(value, max);
}

/** Every host's share as Redis has it, and the hosts that left lately. */
function renderHosts(s) {
  if (s.perHost === null || s.perHost === undefined) {
    $('hosts').replaceChildren(tableRow([s.host.id, formatCount(s.host.connections), '–', formatCount(s.workers), 'Redis is unreachable']));
    return;
  }
  const total = s.perHost.reduce((sum, h) => sum + h.connections, 0);
  $('hosts').replaceChildren(
    ...s.perHost.map((h) => {
      const share = document.createElement('meter');
      share.max = 1;
      share.value = total > 0 ? h.connections / total : 0;
      const name = h.id === s.host.id ? [h.id, ' ', small('(this one)')] : h.id;
      const age = h.leaseAgeMs === null ? 'lease expired' : `${(h.leaseAgeMs / 1000).toFixed(1)} s ago`;
      return tableRow([name, formatCount(h.connections), [formatShare(h.connections, total), ' ', share], formatCount(h.workers), age]);
    }),
  );
  const gone = s.goneHosts ?? [];
  $('hosts-gone').textContent =
    gone.length === 0
      ? 'No host has left.'
      : `Left lately: ${gone
          .slice(0, 5)
          .map((g) => `${g.id} (${g.cause}, ${plural(g.connections, 'connection')}, ${new Date(g.at).toLocaleTimeString()})`)
          .join('; ')}.`;
}

/** A table row: the first cell is the row's header; a cell given as a list is several nodes. */
function tableRow(cells) {
  const row = document.createElement('tr');
  cells.forEach((content, i) => {
    const cell = document.createElement(i === 0 ? 'th' : 'td');
    if (i === 0) cell.scope = 'row';
    cell.append(...(Array.isArray(content) ? content : [content]));
    row.append(cell);
  });
  return row;
}

function workerRow(w, hostConnections) {
  const share = document.createElement('meter');
  share.max = 1;
  share.value = hostConnections > 0 ? w.connections / hostConnections : 0;
  return tableRow([
    `#${w.id}`,
    String(w.pid),
    formatCount(w.connections),
    [formatShare(w.connections, hostConnections), ' ', share],
    formatBytes(w.rss),
    formatBytes(w.heapUsed),
    formatMs(w.eventLoopDelayMs),
    formatMs(w.eventLoopDelayP99Ms),
    formatMs(w.gcPauseMs),
  ]);
}

let source = null;
let lastEventAt = 0;
let reconnectTimer = 0;
let token = sessionStorage.getItem(TOKEN_KEY);
let waitingForToken = false;

// An EventSource cannot send headers, so for the feed alone the token goes in
// the query. Everything else sends it as a header: a URL with the token in it
// ends up in proxies' logs and the browser's history.
const withToken = (url) => (token === null ? url : `${url}?token=${encodeURIComponent(token)}`);
const tokenHeaders = () => (token === null ? {} : { authorization: `Bearer ${token}` });

function showTokenForm() {
  waitingForToken = true;
  source?.close();
  setLink('token');
  $('token-form').hidden = false;
  $('token').focus();
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  $('token-form').hidden = true;
  waitingForToken = false;
  setLink('connecting');
  connect();
});

// An EventSource that closed for good does not say why. A 401 means the token
// is missing or wrong: ask for it. Anything else (a draining server's 503, a
// refused connection): try again. The probe's body, a stream, is not read.
async function afterFeedClosed() {
  try {
    const response = await fetch(FEED_URL, { headers: tokenHeaders(), cache: 'no-store', signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
    void response.body?.cancel();
    if (response.status === 401) return showTokenForm();
  } catch {
    // Unreachable: reconnect as usual.
  }
  reconnectTimer = setTimeout(connect, RECONNECT_MS);
}

function connect() {
  clearTimeout(reconnectTimer);
  source?.close();
  lastEventAt = performance.now();
  source = new EventSource(withToken(FEED_URL));
  source.onmessage = (event) => {
    lastEventAt = performance.now();
    let snapshot;
    try {
      snapshot = JSON.parse(event.data);
    } catch {
      return;
    }
    setLink('live');
    render(snapshot);
  };
  source.onerror = () => {
    setLink('disconnected');
    // After a dropped stream the browser retries by itself (the server asks for
    // retry: 1000), but an HTTP error, such as the 503 of a draining server,
    // closes the EventSource for good: then we start over.
    if (source.readyState === EventSource.CLOSED) void afterFeedClosed();
  };
}

setInterval(() => {
  if (waitingForToken || performance.now() - lastEventAt < STALE_AFTER_MS) return;
  setLink('disconnected');
  connect();
}, 1_000);

connect();

// ---------------------------------------------------------------- pings

/** The last PING_WINDOW pings: milliseconds, or null for one that failed. */
const pings = [];
let pingInFlight = false;

async function ping() {
  // One at a time: a slow server gets fewer pings, not a pile of them.
  if (pingInFlight) return;
  pingInFlight = true;
  const started = performance.now();
  let ms = null;
  try {
    const response = await fetch(PING_URL, { cache: 'no-store', signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
    if (response.ok) ms = performance.now() - started;
  } catch {
    // Refused, reset or timed out: a failed ping, counted below.
  }
  pingInFlight = false;
  pings.push(ms);
  if (pings.length > PING_WINDOW) pings.shift();

  const answered = pings.filter((p) => p !== null);
  const stats = summarize(answered);
  $('ping-median').textContent = formatMs(stats.median);
  $('ping-mean').textContent = formatMs(stats.mean);
  $('ping-p99').textContent = formatMs(stats.p99);
  $('ping-last').textContent = ms === null ? 'failed' : formatMs(ms);
  const failed = pings.length - answered.length;
  $('ping-window').textContent =
    `Over the last ${plural(answered.length, 'ping')}` + (failed > 0 ? `; ${formatCount(failed)} of the last ${formatCount(pings.length)} failed.` : '.');
  charts.ping.push(nowSeconds(), ms === null ? [null, null] : [ms, stats.median]);
}

setInterval(ping, PING_EVERY_MS);
void ping();
