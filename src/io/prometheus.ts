// The replica's figures as Prometheus text over HTTP (GET /metrics), with prom-client, for users
// who scrape; on only when the node has a metrics_port in nodes.toml. Totals are counters (their
// rates are Prometheus's to compute); the rest are gauges read at scrape time.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { errorKinds, requestKinds, type MetricsSnapshot } from './metrics.js';

const snapshotReuseMs = 200;

export interface MetricsServer {
  /** host:port it listens on. */
  address: string;
  close(): Promise<void>;
}

/** The registry a scrape reads; every collect() reads one fresh snapshot. */
export function metricsRegistry(read: () => MetricsSnapshot, labels: { node: string }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  // One snapshot serves every metric of a scrape.
  let snapshot: MetricsSnapshot | null = null;
  let takenAtMs = -Infinity;
  const now = (): MetricsSnapshot => {
    const t = Date.now();
    if (snapshot === null || t - takenAtMs >= snapshotReuseMs) {
      snapshot = read();
      takenAtMs = t;
    }
    return snapshot;
  };
  const exported = { requests: new Map<string, number>(), errors: new Map<string, number>() };
  /** prom-client counters only go up by inc(): add what the replica's totals gained since the last scrape. */
  const catchUp = (c: Counter<'kind'>, seen: Map<string, number>, kind: string, total: number) => {
    const delta = total - (seen.get(kind) ?? 0);
    if (delta > 0) c.inc({ kind }, delta);
    seen.set(kind, total);
  };
  new Counter({
    name: 'ringkv_client_requests_total', help: 'Client requests received, by kind (retransmissions not counted)', labelNames: ['kind'], registers: [registry],
    collect() { for (const k of requestKinds) catchUp(this, exported.requests, k, now().requests[k]); },
  });
  new Counter({
    name: 'ringkv_error_answers_total', help: 'Error answers sent to clients, by kind', labelNames: ['kind'], registers: [registry],
    collect() { for (const k of errorKinds) catchUp(this, exported.errors, k, now().errors[k]); },
  });
  const gauge = (name: string, help: string, value: (s: MetricsSnapshot) => number) => new Gauge({
    name, help, registers: [registry], collect() { this.set(value(now())); },
  });
  gauge('ringkv_coordinator_latency_p99_seconds', 'p99 from receiving a get or put to answering it, over the last 10-20 s', (s) => (s.coordinatorP99Ms ?? 0) / 1000);
  gauge('ringkv_hints_pending', 'Hints held for other replicas', (s) => s.hintsPending);
  gauge('ringkv_peers_up', 'Replicas this one sees up, itself included', (s) => s.peersUp);
  gauge('ringkv_serving_writes', '1 once this replica coordinates writes; 0 in a restarted replica\'s wait-out (reads are served)', (s) => (s.writesServedInMs === 0 ? 1 : 0));
  gauge('ringkv_log_bytes', 'Size of the write-ahead log and snapshot', (s) => s.logBytes);
  gauge('ringkv_keys_stored', 'Keys this replica holds', (s) => s.keysStored);
  gauge('ringkv_log_write_latency_p50_seconds', 'Median of one durable log write (a group of records, fsynced), over the last 10-20 s', (s) => (s.logWriteP50Ms ?? 0) / 1000);
  gauge('ringkv_log_write_latency_p99_seconds', 'p99 of one durable log write (a group of records, fsynced), over the last 10-20 s', (s) => (s.logWriteP99Ms ?? 0) / 1000);
  gauge('ringkv_datagram_handling_p50_seconds', 'Median time to handle one datagram (decode, state machine, effects queued), over the last 10-20 s', (s) => (s.datagramP50Ms ?? 0) / 1000);
  gauge('ringkv_datagram_handling_p99_seconds', 'p99 time to handle one datagram (decode, state machine, effects queued), over the last 10-20 s', (s) => (s.datagramP99Ms ?? 0) / 1000);
  const total = (name: string, help: string, value: (s: MetricsSnapshot) => number) => {
    let seen = 0;
    new Counter({ name, help, registers: [registry], collect() { const v = value(now()); if (v > seen) this.inc(v - seen); seen = v; } });
  };
  total('ringkv_log_writes_total', 'Durable log writes (each a group of records, fsynced once)', (s) => s.logWrites);
  total('ringkv_log_records_written_total', 'Log records written by those writes', (s) => s.logRecordsWritten);
  gauge('ringkv_anti_entropy_keys_repaired', 'Keys anti-entropy sent to or received from peers since start', (s) => s.antiEntropyKeysRepaired);
  return registry;
}

export async function serveMetrics(host: string, port: number, registry: Registry): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e instanceof Error ? e.message : String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const bound = server.address();
  return {
    address: `${host}:${typeof bound === 'object' && bound !== null ? bound.port : port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
