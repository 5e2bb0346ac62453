// `kvc dashboard`: a local, read-only web page of the cluster snapshot. kvc polls every replica once a
// second (cluster-snapshot.ts) and pushes each snapshot to the open pages over Server-Sent Events;
// the page (dashboard-page.ts) draws it, with uPlot (served from node_modules) for the plots. Bound
// to 127.0.0.1 unless --host says otherwise. Only GET (and HEAD) of a few paths is answered.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dashboardHistoryPoints, dashboardStreamsMax } from '../core/limits.js';
import type { ClientOptions } from '../client/client.js';
import { SnapshotPoller, type ClusterSnapshot } from './cluster-snapshot.js';
import { dashboardHtml } from './dashboard-page.js';
import { errorRate, requestRate } from './top-view.js';

export const dashboardIntervalMs = 1_000;
export const dashboardHostDefault = '127.0.0.1';
export const dashboardPortDefault = 8_080;
/** A comment line on every stream this often, so proxies and the browser keep it open. */
const sseKeepAliveMs = 15_000;

/** One poll's figures for the plots, per replica: requests/s, errors/s, p99 ms (null: not known). */
export interface HistoryPoint { atMs: number; replicas: Record<string, { req: number | null; err: number | null; p99: number | null }> }

export function historyPoint(s: ClusterSnapshot): HistoryPoint {
  return {
    atMs: s.atMs,
    replicas: Object.fromEntries(s.replicas.map((r) => [r.name, { req: requestRate(r), err: errorRate(r), p99: r.latency?.p99Ms ?? null }])),
  };
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
export async function startDashboard(opts: ClientOptions & { port?: number; host?: string; pollTimeoutMs?: number }): Promise<Dashboard> {
  const { port = dashboardPortDefault, host = dashboardHostDefault, ...pollOpts } = opts;
  const poller = await SnapshotPoller.open(pollOpts);
  const files: Record<string, [string, Buffer]> = {
    '/': ['text/html; charset=utf-8', Buffer.from(dashboardHtml)],
    '/uPlot.iife.min.js': ['text/javascript; charset=utf-8', asset('uplot/dist/uPlot.iife.min.js')],
    '/uPlot.min.css': ['text/css; charset=utf-8', asset('uplot/dist/uPlot.min.css')],
  };
  const streams = new Set<Stream>();
  const history: HistoryPoint[] = [];
  let latest: ClusterSnapshot | null = null;
  let seq = 0;

  const frame = (event: string, data: unknown): string => `id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  const send = (s: Stream, text: string): void => {
    if (s.blocked) return; // a slow page misses snapshots; it gets the next one once it drains
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
      send(s, `retry: 2000\n${frame('history', history)}`);
      if (latest !== null) send(s, frame('snapshot', latest));
      return;
    }
    if (path === '/snapshot.json') {
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
  const tick = async (): Promise<void> => {
    const started = Date.now();
    latest = await poller.poll();
    history.push(historyPoint(latest));
    if (history.length > dashboardHistoryPoints) history.shift();
    seq++;
    const text = frame('snapshot', latest);
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
    await poller.close();
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
      await poller.close();
    },
  };
}
