import { expect } from 'chai';
import type { StatusReport } from '../../src/core/messages.js';
import { metricsWindowMs, ReplicaMetrics } from '../../src/io/metrics.js';
import { recordsPerWrite } from '../../src/io/pm2-metrics.js';
import { metricsRegistry, serveMetrics } from '../../src/io/prometheus.js';

const client = '127.0.0.1:40000';
const stamp = [1, 0, 0] as [number, number, number];
const age = { sentAtMs: 0, deadlineMs: 60_000 };
const peerChecks = { clockOffsetMs: 0, clockRefused: false, configMismatch: false, forged: false, refusesOurCookie: false };

function status(): StatusReport {
  return {
    node: 'replica-2', replicationFactor: 3, repairMode: 'hinted-handoff', ring: [],
    peers: [
      { name: 'replica-1', up: true, hintsPending: 2, hintsExpired: 0, antiEntropy: { rounds: 4, lastRoundMs: 1, keysSent: 3, keysReceived: 1 }, ...peerChecks },
      // itself: not its own hints
      { name: 'replica-2', up: true, hintsPending: 7, hintsExpired: 0, antiEntropy: { rounds: 0, lastRoundMs: null, keysSent: 0, keysReceived: 0 }, ...peerChecks },
      { name: 'replica-3', up: false, hintsPending: 5, hintsExpired: 0, antiEntropy: { rounds: 2, lastRoundMs: 1, keysSent: 0, keysReceived: 2 }, ...peerChecks },
    ],
    antiEntropyIntervalMs: 10_000, keysStored: 12, tombstones: 1, logBytes: 4096, logRecords: 30, droppedDatagrams: {}, clientRequestsInFlight: 0,
    logWritable: true, logAppendsFailed: 0, configDigest: '0a1b2c3d', clockWarning: null, quarantinedAtReplay: 0, writesServedInMs: 0,
  };
}

describe('io/metrics: what a replica reports to pm2 and Prometheus', () => {
  it('counts client requests by kind once per id, errors by kind, and the coordinator p99', () => {
    const m = new ReplicaMetrics(0);
    for (let id = 1; id <= 100; id++) {
      m.requestIn(client, { t: 'put', id, key: 1, value: 'v', level: 'QUORUM', ...age }, id);
      m.requestIn(client, { t: 'put', id, key: 1, value: 'v', level: 'QUORUM', ...age }, id + 1); // a retransmission
      // 99 answered in 2 ms, the last in 40 ms.
      m.replyOut(client, { t: 'put.ok', id, key: 1, stamp, coordinator: 'replica-2' }, id + (id === 100 ? 40 : 2));
    }
    m.requestIn(client, { t: 'get', id: 200, key: 1, level: 'ALL', ...age }, 150);
    m.replyOut(client, { t: 'fail', id: 200, error: 'Unavailable', message: 'Unavailable: …' }, 151);
    m.requestIn(client, { t: 'get', id: 201, key: 1, level: 'QUORUM', ...age }, 150);
    m.replyOut(client, { t: 'fail', id: 201, error: 'Timeout', message: 'Timeout', acks: 1, required: 2 }, 1150);
    m.fromStatus(status());
    const s = m.snapshot(2000);
    expect(s.requests).to.deep.equal({ get: 2, put: 100, del: 0, local: 0, status: 0, repair: 0, state: 0 });
    expect(s.errors).to.deep.equal({ Unavailable: 1, Timeout: 1, Overloaded: 0, InvalidRequest: 0, Forbidden: 0, ClockSkew: 0 });
    expect(s.requestsPerSecond.put).to.equal(50); // 100 over the 2 s since start
    expect(s.coordinatorP99Ms).to.be.within(39, 41); // the 1 s Timeout is the p100; 40 ms is the p99 of 102
    expect(s).to.include({ hintsPending: 7, peersUp: 2, peers: 3, logBytes: 4096, keysStored: 12, antiEntropyKeysRepaired: 6 });
  });

  it('rates and p99 follow the recent past: an idle window later they are back to zero', () => {
    const m = new ReplicaMetrics(0);
    m.requestIn(client, { t: 'get', id: 1, key: 1, level: 'ONE', ...age }, 0);
    m.replyOut(client, { t: 'get.ok', id: 1, key: 1, value: null, stamp: null, coordinator: 'replica-2' }, 5);
    expect(m.snapshot(1000).requestsPerSecond.get).to.equal(1);
    m.snapshot(metricsWindowMs);
    const later = m.snapshot(3 * metricsWindowMs);
    expect(later.requestsPerSecond.get).to.equal(0);
    expect(later.coordinatorP99Ms).to.equal(null);
    expect(later.requests.get).to.equal(1);
  });

  it('times durable log writes: p50 and p99 over the recent past, and records per write since start', () => {
    const m = new ReplicaMetrics(0);
    // 98 writes of 4 records in 0.2 ms, two slow ones of 1 record in 30 ms (a stalled disk).
    for (let i = 0; i < 98; i++) m.logWrite(0.2, 4, i);
    m.logWrite(30, 1, 98);
    m.logWrite(30, 1, 99);
    const s = m.snapshot(1000);
    expect(s).to.include({ logWrites: 100, logRecordsWritten: 394 });
    expect(recordsPerWrite(s)).to.equal(3.9);
    expect(s.logWriteP50Ms).to.be.within(0.19, 0.21);
    expect(s.logWriteP99Ms).to.be.within(29, 31);
    m.snapshot(metricsWindowMs);
    const later = m.snapshot(3 * metricsWindowMs);
    expect(later.logWriteP99Ms).to.equal(null); // no write in the last two windows
    expect(later.logWrites).to.equal(100);
  });

  it('times the handling of each datagram: p50 and p99 over the recent past', () => {
    const m = new ReplicaMetrics(0);
    for (let i = 0; i < 99; i++) m.datagramHandled(0.02);
    m.datagramHandled(3); // one stalled behind a slow step
    const s = m.snapshot(1000);
    expect(s.datagramP50Ms).to.be.within(0.019, 0.021);
    expect(s.datagramP99Ms).to.be.within(0.019, 3.1);
    m.datagramHandled(3);
    expect(m.snapshot(1000).datagramP99Ms).to.be.within(2.9, 3.1); // two of 101: the p99 is now the slow one
    m.snapshot(metricsWindowMs);
    expect(m.snapshot(3 * metricsWindowMs).datagramP50Ms).to.equal(null);
  });

  it('serves the same figures as Prometheus text over HTTP', async () => {
    const m = new ReplicaMetrics(0);
    m.requestIn(client, { t: 'status', id: 1 }, 0);
    m.replyOut(client, { t: 'fail', id: 1, error: 'Overloaded', message: 'Overloaded' }, 1);
    m.logWrite(4.5, 3, 1);
    m.fromStatus(status());
    const server = await serveMetrics('127.0.0.1', 0, metricsRegistry(() => m.snapshot(1000), { node: 'replica-2' }));
    try {
      const first = await (await fetch(`http://${server.address}/metrics`)).text();
      expect(first).to.include('ringkv_client_requests_total{kind="status",node="replica-2"} 1');
      expect(first).to.include('ringkv_error_answers_total{kind="Overloaded",node="replica-2"} 1');
      expect(first).to.include('ringkv_hints_pending{node="replica-2"} 7');
      expect(first).to.include('ringkv_peers_up{node="replica-2"} 2');
      expect(first).to.include('ringkv_log_writes_total{node="replica-2"} 1');
      expect(first).to.include('ringkv_log_records_written_total{node="replica-2"} 3');
      expect(first).to.match(/ringkv_log_write_latency_p99_seconds\{node="replica-2"\} 0\.00[45]/);
      m.requestIn(client, { t: 'status', id: 2 }, 2);
      await new Promise((r) => setTimeout(r, 250)); // past the snapshot reuse
      const second = await (await fetch(`http://${server.address}/metrics`)).text();
      expect(second).to.include('ringkv_client_requests_total{kind="status",node="replica-2"} 2');
      expect((await fetch(`http://${server.address}/other`)).status).to.equal(404);
    } finally {
      await server.close();
    }
  });

  it('shows a restarted replica\'s wait-out: ms until it serves writes, and serving 0 then 1 in Prometheus', async () => {
    const m = new ReplicaMetrics(0);
    m.fromStatus({ ...status(), writesServedInMs: 312 });
    expect(m.snapshot(10).writesServedInMs).to.equal(312);
    let now = 0;
    const registry = metricsRegistry(() => m.snapshot(now), { node: 'replica-2' });
    expect(await registry.metrics()).to.include('ringkv_serving_writes{node="replica-2"} 0');
    m.fromStatus(status());
    now = 1_000;
    await new Promise((r) => setTimeout(r, 250)); // past the snapshot reuse
    expect(m.snapshot(now).writesServedInMs).to.equal(0);
    expect(await registry.metrics()).to.include('ringkv_serving_writes{node="replica-2"} 1');
  });
});
