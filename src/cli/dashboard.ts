// `kvc dashboard`: a local, read-only web page of the cluster. Once a second kvc asks every replica
// for its `state` (fetchClusterView, the same merged view `kvc state` and `kvc top` draw) and pushes
// one frame to the open pages over Server-Sent Events; the page (dashboard-page.ts) draws it, with
// uPlot (served from node_modules) for the plots. Bound to 127.0.0.1 unless --host says otherwise.
// Only GET (and HEAD) of a few paths is answered.
//
// `dashboardFrame` and `historyPoint` are pure (views in, what the page draws out), so the figures
// and the trace text are the ones kvc prints, tested without a browser.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dashboardHistoryPoints, dashboardStreamsMax } from '../core/limits.js';
import type { ClusterConfig } from '../core/types.js';
import { KvClient, type ClientOptions } from '../client/client.js';
import { fetchClusterView, type ClusterView, type ReplicaAnswer } from './cluster-state.js';
import { dashboardHtml } from './dashboard-page.js';
import { traceTable } from './trace-table.js';

export const dashboardIntervalMs = 1_000;
export const dashboardHostDefault = '127.0.0.1';
export const dashboardPortDefault = 8_080;
/** Deadline of each state request of a poll: a live replica answers at once, and a stopped one must not hold the page back. */
export const dashboardPollTimeoutMs = 800;
/** A comment line on every stream this often, so proxies and the browser keep it open. */
const sseKeepAliveMs = 15_000;
/** Slow requests the page lists (newest first, over every replica). */
const slowRowsShown = 20;

/** Client requests proper: `status` and `state` are left out, since the dashboard's own polls are those. */
const requestKinds = ['get', 'put', 'del', 'local', 'repair'];

/** One poll's figures for the plots, per replica: requests/s, errors/s, p99 ms (null: not known). */
export interface HistoryPoint { atMs: number; replicas: Record<string, { req: number | null; err: number | null; p99: number | null }> }

/** A replica's error answers since it started, summed: the difference of two polls is errors in between. */
function errorsTotal(a: ReplicaAnswer): number | null {
  const f = a.state?.figures;
  return f === null || f === undefined ? null : Object.values(f.errors).reduce((n, x) => n + x, 0);
}

/**
 * The plots' point for this view. Errors/s is the change of each replica's error count since the
 * previous view (null on the first, after a restart of the replica, or when either did not answer).
 */
export function historyPoint(view: ClusterView, previous: ClusterView | null): HistoryPoint {
  const seconds = previous === null ? 0 : (view.atMs - previous.atMs) / 1000;
  return {
    atMs: view.atMs,
    replicas: Object.fromEntries(view.replicas.map((a) => {
      const f = a.state?.figures ?? null;
      const before = previous?.replicas.find((p) => p.name === a.name);
      const now = errorsTotal(a);
      const then = before === undefined ? null : errorsTotal(before);
      const sameRun = before?.state !== undefined && before.state !== null && a.state !== null && before.state.generation === a.state.generation;
      const err = now !== null && then !== null && sameRun && seconds > 0 ? Math.max(0, now - then) / seconds : null;
      const req = f === null ? null : requestKinds.reduce((n, k) => n + (f.requestsPerSecond[k] ?? 0), 0);
      return [a.name, { req, err, p99: f?.coordinatorP99Ms ?? null }];
    })),
  };
}

/** A slow request as the page lists it: which replica coordinated it, and its trace's session when it was traced. */
export interface SlowRow { replica: string; op: string; key: string | null; level: string | null; atMs: number; durationMs: number; outcome: string; session: string | null }

/** What one push carries: the merged view, the settings the page explains it with, and the slow requests with their traces as kvc prints them. */
export interface DashboardFrame {
  view: ClusterView;
  downAfterMs: number;
  antiEntropyIntervalMs: number;
  slowRequestMs: number;
  slow: SlowRow[];
  /** Each replica's newest slow traced request, as `kvc get --trace` prints a trace. */
  traces: { replica: string; session: string; text: string }[];
}

export function dashboardFrame(view: ClusterView, config: ClusterConfig): DashboardFrame {
  const names = config.nodes.map((n) => n.name);
  const slow = view.replicas.flatMap((a) => (a.state?.slow ?? []).map((s): SlowRow => ({
    replica: a.name, op: s.op, key: s.key === null ? null : String(s.key), level: s.level, atMs: s.atMs, durationMs: s.durationMs, outcome: s.outcome, session: s.session,
  }))).sort((x, y) => y.atMs - x.atMs).slice(0, slowRowsShown);
  const traces = view.replicas.flatMap((a) => {
    const t = a.state?.slowTrace;
    return t === null || t === undefined ? [] : [{ replica: a.name, session: t.session, text: traceTable(t, names) }];
  });
  return { view, downAfterMs: config.downAfterMs, antiEntropyIntervalMs: config.antiEntropyIntervalMs, slowRequestMs: config.slowRequestMs ?? 0, slow, traces };
}

export interface Dashboard {
  readonly url: string;
  close(): Promise<void>;
}

interface Stream { res: ServerResponse; blocked: boolean }

function asset(path: string): Buffer {
  return readFileSync(createRequire(import.meta.url).resolve(path));
}

/** Starts polling and serving; resolves once the server listens. */
export async function startDashboard(opts: ClientOptions & { port?: number; host?: string }): Promise<Dashboard> {
  const { port = dashboardPortDefault, host = dashboardHostDefault, ...clientOpts } = opts;
  const client = await KvClient.open({ timeoutMs: dashboardPollTimeoutMs, ...clientOpts });
  const files: Record<string, [string, Buffer]> = {
    '/': ['text/html; charset=utf-8', Buffer.from(dashboardHtml)],
    '/uPlot.iife.min.js': ['text/javascript; charset=utf-8', asset('uplot/dist/uPlot.iife.min.js')],
    '/uPlot.min.css': ['text/css; charset=utf-8', asset('uplot/dist/uPlot.min.css')],
  };
  const streams = new Set<Stream>();
  const history: HistoryPoint[] = [];
  let latest: DashboardFrame | null = null;
  let seq = 0;

  const event = (name: string, data: unknown): string => `id: ${seq}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const send = (s: Stream, text: string): void => {
    if (s.blocked) return; // a slow page misses frames; it gets the next one once it drains
    if (!s.res.write(text)) {
      s.blocked = true;
      s.res.once('drain', () => { s.blocked = false; });
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('read-only: GET only\n');
      return;
    }
    if (path === '/events') {
      if (streams.size >= dashboardStreamsMax) {
        res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '5' }).end(`at most ${dashboardStreamsMax} pages stream at once\n`);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      res.flushHeaders();
      const s: Stream = { res, blocked: false };
      streams.add(s);
      req.on('close', () => streams.delete(s));
      send(s, `retry: 2000\n${event('history', history)}`);
      if (latest !== null) send(s, event('frame', { frame: latest, point: history.at(-1) }));
      return;
    }
    if (path === '/state.json') {
      res.writeHead(latest === null ? 503 : 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' })
        .end(JSON.stringify(latest ?? { error: 'no poll finished yet' }));
      return;
    }
    const file = files[path];
    if (file === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': file[0], 'Content-Length': file[1].length, 'Cache-Control': 'no-cache' }).end(req.method === 'HEAD' ? undefined : file[1]);
  });

  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let previous: ClusterView | null = null;
  const tick = async (): Promise<void> => {
    const started = Date.now();
    const view = await fetchClusterView(client);
    const point = historyPoint(view, previous);
    previous = view;
    latest = dashboardFrame(view, client.config);
    history.push(point);
    if (history.length > dashboardHistoryPoints) history.shift();
    seq++;
    const text = event('frame', { frame: latest, point });
    for (const s of streams) send(s, text);
    if (!stopped) timer = setTimeout(() => { running = tick(); }, Math.max(0, dashboardIntervalMs - (Date.now() - started)));
  };
  const keepAlive = setInterval(() => { for (const s of streams) send(s, ': ping\n\n'); }, sseKeepAliveMs);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    clearInterval(keepAlive);
    await client.close();
    throw e;
  }
  running = tick();
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`,
    async close() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(keepAlive);
      await running.catch(() => {});
      for (const s of streams) s.res.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client.close();
    },
  };
}
