// --scenario restart, two measurements on real processes:
//  1. restart: write N values as fast as the closed loop goes, then `pm2 stop` + `pm2 start` one
//     replica and time until it answers `local` (log replay and snapshot cost).
//  2. hints: stop a replica, write M values to keys it holds, start it, and time until `local` on it
//     shows, for every key it missed, the newest write acked while it was down (hinted handoff).
import { Ring } from '../../src/core/partitioner.js';
import { compareStamps } from '../../src/core/hlc.js';
import type { PutResult } from '../../src/client/client.js';
import type { Key, Stamp } from '../../src/core/types.js';
import { probeTimeoutMs, sleep, type Cluster } from './cluster.js';
import { RingkvTarget } from './cluster.js';
import { runClosedLoop, type RunResult } from './driver.js';
import { startedAtMs } from './proc.js';
import type { BenchOptions } from './options.js';

/** A replica must serve (or have every hint) within this after its start, else the scenario reports it missing. */
const comeBackTimeoutMs = 60_000;
/** A new `local` probe leaves this often while waiting for a replica to serve. */
const serveProbeIntervalMs = 5;
/** Rounds of `local` over the keys still behind while waiting for hints. */
const hintProbeIntervalMs = 10;
const downDetectTimeoutMs = 15_000;

export interface ComeBack {
  replica: string;
  /** From issuing `pm2 start` to the first answer. */
  fromPm2StartMs: number | null;
  /** From the new process's start (/proc starttime, 10 ms resolution) to the first answer. */
  fromProcessStartMs: number | null;
  pid: number | null;
}

export interface RestartResult {
  writes: RunResult;
  dataBytesAtStop: number;
  stopMs: number;
  comeBack: ComeBack;
  /** kvd's own 'log-replayed' line after the restart. */
  replayLine: string | null;
}

export interface HintsResult {
  replica: string;
  keys: number;
  writes: RunResult;
  hintsPendingAtStart: number;
  comeBack: ComeBack;
  /** Until local on the replica showed the newest acked write of every key it missed. */
  allDeliveredFromPm2StartMs: number | null;
  allDeliveredFromProcessStartMs: number | null;
  keysBehindAtTimeout: number;
  hintsPendingAfter: number;
}

export async function restartScenario(cluster: Cluster, o: BenchOptions, coordinators: string[], log: (line: string) => void): Promise<RestartResult> {
  const name = o.restartReplica;
  if (!cluster.names.includes(name)) throw new Error(`--restart-replica: no replica ${name} in ${cluster.configPath}`);
  log(`restart: ${o.restartWrites.toLocaleString('en-US')} writes at ${o.writeLevel}, ${o.concurrency} in flight over ${coordinators.join(', ')}`);
  const target = await RingkvTarget.open(cluster, coordinators, o.clientsPerCoordinator, o.readLevel, o.writeLevel);
  let writes: RunResult;
  try {
    writes = await runClosedLoop(target, plan(o, o.restartWrites), 'fill');
  } finally {
    await target.close();
  }
  log(`restart: wrote at ${Math.round(writes.total.opsPerSec).toLocaleString('en-US')} ops/s (${writes.total.errorCount} errors); pm2 stop ${name}`);
  const stopStarted = Date.now();
  await cluster.pm2(['stop', name]);
  const stopMs = Date.now() - stopStarted;
  const dataBytesAtStop = cluster.dataBytes(name);
  log(`restart: ${name} stopped in ${stopMs} ms, data dir ${(dataBytesAtStop / 1e6).toFixed(1)} MB; pm2 start ${name}`);
  const comeBack = await startAndTimeServe(cluster, name);
  const replayLine = cluster.logLines(name).filter((l) => l.includes('log-replayed')).at(-1)?.trim() ?? null;
  await cluster.waitServing(comeBackTimeoutMs);
  return { writes, dataBytesAtStop, stopMs, comeBack, replayLine };
}

export async function hintsScenario(cluster: Cluster, o: BenchOptions, log: (line: string) => void): Promise<HintsResult> {
  const name = o.hintReplica;
  const self = cluster.names.indexOf(name);
  if (self < 0) throw new Error(`--hint-replica: no replica ${name} in ${cluster.configPath}`);
  if (cluster.config.partitioner === 'hashed') throw new Error('the hints scenario writes the keys 0..255 a replica holds: run it on a byte-ordered cluster');
  const ring = new Ring(cluster.config.nodes.length, cluster.config.replicationFactor);
  const keys: Key[] = [];
  for (let k = 0; k < 256; k++) if (ring.holds(self, k)) keys.push(k);
  const others = cluster.names.filter((n) => n !== name);
  const coordinators = o.coordinator !== undefined && o.coordinator !== name ? [o.coordinator] : others;

  log(`hints: pm2 stop ${name}; waiting until ${others.join(', ')} see it DOWN`);
  await cluster.pm2(['stop', name]);
  await waitPeerState(cluster, others, name, false);
  log(`hints: ${o.hintWrites.toLocaleString('en-US')} writes at ${o.writeLevel} to the ${keys.length} keys ${name} holds, over ${coordinators.join(', ')}`);
  const newest = new Map<Key, Stamp>();
  const target = await RingkvTarget.open(cluster, coordinators, o.clientsPerCoordinator, o.readLevel, o.writeLevel);
  let writes: RunResult;
  try {
    writes = await runClosedLoop(target, {
      ...plan(o, o.hintWrites), keys,
      onWrite: (key, _value, result) => {
        const stamp = (result as PutResult).stamp;
        const seen = newest.get(key);
        if (seen === undefined || compareStamps(stamp, seen) > 0) newest.set(key, stamp);
      },
    }, 'hints');
  } finally {
    await target.close();
  }
  const hintsPendingAtStart = await hintsPendingFor(cluster, others, name);
  log(`hints: wrote at ${Math.round(writes.total.opsPerSec).toLocaleString('en-US')} ops/s; ${hintsPendingAtStart} hints pending for ${name}; pm2 start ${name}`);

  const probe = await cluster.client(others[0]!, probeTimeoutMs);
  const behind = new Set(newest.keys());
  let allDelivered: number | null = null;
  let comeBack: ComeBack;
  try {
    const pm2StartAt = Date.now();
    const serving = startAndTimeServe(cluster, name);
    const deadline = pm2StartAt + comeBackTimeoutMs;
    while (behind.size > 0 && Date.now() < deadline) {
      await Promise.all([...behind].map(async (key) => {
        try {
          const r = await probe.local(key, name);
          if (r.stamp !== null && compareStamps(r.stamp, newest.get(key)!) >= 0) behind.delete(key);
        } catch { /* not serving yet */ }
      }));
      if (behind.size === 0) allDelivered = Date.now();
      else await sleep(hintProbeIntervalMs);
    }
    comeBack = await serving;
    if (allDelivered !== null) allDelivered -= pm2StartAt;
  } finally {
    await probe.close();
  }
  const startOffset = comeBack.fromPm2StartMs !== null && comeBack.fromProcessStartMs !== null ? comeBack.fromPm2StartMs - comeBack.fromProcessStartMs : null;
  await cluster.waitServing(comeBackTimeoutMs).catch(() => undefined);
  const hintsPendingAfter = await hintsPendingFor(cluster, others, name);
  return {
    replica: name, keys: keys.length, writes, hintsPendingAtStart, comeBack,
    allDeliveredFromPm2StartMs: allDelivered,
    allDeliveredFromProcessStartMs: allDelivered === null || startOffset === null ? null : allDelivered - startOffset,
    keysBehindAtTimeout: behind.size, hintsPendingAfter,
  };
}

function plan(o: BenchOptions, ops: number) {
  return {
    workload: { name: 'W' as const, distribution: o.distribution, valueBytes: o.valueBytes, seed: o.seed },
    concurrency: o.concurrency, warmupS: 0, durationS: o.durationS, ops, opsTimeCapS: 900, progress: o.progress,
  };
}

/** Issues `pm2 start`, and probes the replica with `local` every few ms until one is answered. */
async function startAndTimeServe(cluster: Cluster, name: string): Promise<ComeBack> {
  const probe = await cluster.client(name, probeTimeoutMs);
  const startedAt = Date.now();
  try {
    const started = cluster.pm2(['start', name]);
    const served = await new Promise<number | null>((resolve) => {
      let done = false;
      const finish = (at: number | null) => { if (!done) { done = true; clearInterval(timer); clearTimeout(giveUp); resolve(at); } };
      const timer = setInterval(() => { probe.local(0).then(() => finish(Date.now()), () => undefined); }, serveProbeIntervalMs);
      const giveUp = setTimeout(() => finish(null), comeBackTimeoutMs);
    });
    await started;
    const pid = (await cluster.replicaPids()).find((p) => p.name === name)?.pid ?? null;
    const processStart = pid === null ? null : startedAtMs(pid);
    return {
      replica: name, pid,
      fromPm2StartMs: served === null ? null : served - startedAt,
      fromProcessStartMs: served === null || processStart === null ? null : served - processStart,
    };
  } finally {
    await probe.close();
  }
}

async function waitPeerState(cluster: Cluster, observers: string[], peer: string, up: boolean): Promise<void> {
  const probe = await cluster.client(observers[0]!, probeTimeoutMs);
  const deadline = Date.now() + downDetectTimeoutMs;
  try {
    while (Date.now() < deadline) {
      const states = await Promise.all(observers.map((n) => probe.status(n).then((s) => s.peers.find((p) => p.name === peer)?.up, () => undefined)));
      if (states.every((s) => s === up)) return;
      await sleep(100);
    }
    throw new Error(`${observers.join(', ')} did not all see ${peer} ${up ? 'UP' : 'DOWN'} within ${downDetectTimeoutMs} ms`);
  } finally {
    await probe.close();
  }
}

async function hintsPendingFor(cluster: Cluster, holders: string[], peer: string): Promise<number> {
  const probe = await cluster.client(holders[0]!, probeTimeoutMs);
  try {
    const counts = await Promise.all(holders.map((n) => probe.status(n).then((s) => s.peers.find((p) => p.name === peer)?.hintsPending ?? 0, () => 0)));
    return counts.reduce((a, b) => a + b, 0);
  } finally {
    await probe.close();
  }
}
