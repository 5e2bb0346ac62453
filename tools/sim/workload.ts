// One simulated run from one seed: a cluster shape, a client workload under a schedule of faults,
// then healing, then the checkers. Everything is derived from the seed, so a failure replays.
import { compareStamps, formatStamp } from '../../src/core/hlc.js';
import type { ClientReply, Message } from '../../src/core/messages.js';
import { seededRandom, type Random } from '../../src/core/prng.js';
import { requiredAcks } from '../../src/core/quorum.js';
import { count } from '../../src/core/text.js';
import type { PartitionerName } from '../../src/core/keyspace.js';
import { levels, type Key, type Level, type RepairMode, type Stamp } from '../../src/core/types.js';
import { textKeys } from '../workload-keys.js';
import { SimCluster, StepError } from './cluster.js';

export interface SeedOptions {
  seed: number;
  /** Defaults derived from the seed. */
  mode?: RepairMode;
  nodes?: number;
  replicationFactor?: number;
  /** Virtual ms of workload under faults. */
  faultMs?: number;
  clients?: number;
  faults?: boolean;
  /** exact: every clock true; skewed: offsets within ±0.45 max_clock_skew_ms and drift; bad: skewed, and one clock jumps far. Default from the seed. */
  clocks?: ClockMode;
  /** byte-ordered (default): 6 of the keys 0..255; hashed: text keys, `keys` of them (default 2,000), half the operations on 6 hot ones. */
  partitioner?: PartitionerName;
  keys?: number;
}

export const clockModes = ['exact', 'skewed', 'bad'] as const;
export type ClockMode = (typeof clockModes)[number];

/** A node's clock beyond the bound, from jumpMs (true time) until the heal sets it right. */
interface BadClock { node: number; jumpMs: number; offsetMs: number; healedMs: number }

export interface Op {
  client: number;
  /** A del writes a tombstone: a version with no value, checked like any write. */
  kind: 'put' | 'del' | 'get';
  key: Key;
  level: Level;
  value?: string;
  coordinator: number;
  invokeMs: number;
  completeMs?: number;
  outcome?: 'ok' | 'fail' | 'noreply';
  error?: string;
  stamp?: Stamp | null;
  got?: string | null;
  /** A write refused as one its coordinator's previous process may have stamped: when that coordinator had said it was ready (null: not yet). */
  refusedAsBeforeRestartReadyMs?: number | null;
}

export interface SeedResult {
  seed: number;
  shape: string;
  nodes: number;
  replicationFactor: number;
  mode: RepairMode;
  clocks: ClockMode;
  faultMs: number;
  partitioner: PartitionerName;
  keys: number;
  failures: string[];
  stats: { ops: number; acked: number; failed: number; noReply: number; crashes: number; partitions: number; steps: number; junk: number; diskFull: number };
  log: string[];
}

const modes: RepairMode[] = ['hinted-handoff', 'read-repair', 'both'];
const clientRetryMs = 40;
const clientDeadlineMs = 1_500;

/** The command that reruns one seed with the same cluster shape, repair mode and clocks. */
export function replayCommand(seed: number, shape?: Pick<SeedResult, 'nodes' | 'replicationFactor' | 'mode' | 'clocks' | 'faultMs'> & Partial<Pick<SeedResult, 'partitioner' | 'keys'>>): string {
  if (shape === undefined) return `npm run sim -- --seed ${seed}`;
  const keys = shape.partitioner === 'hashed' ? ` --partitioner hashed --keys ${shape.keys}` : '';
  return `npm run sim -- --seed ${seed} --nodes ${shape.nodes} --rf ${shape.replicationFactor} --mode ${shape.mode} --clocks ${shape.clocks} --fault-ms ${shape.faultMs}${keys}`;
}

export { textKeys };

export function runSeed(opts: SeedOptions): SeedResult {
  // All three are always drawn, in this order, so fixing one (--nodes, --rf, --mode) leaves what the seed draws for the others.
  const shapeRandom = seededRandom(opts.seed ^ 0x5eed);
  const drawnNodes = 3 + Math.floor(shapeRandom() * 3);
  const drawnRf = 2 + Math.floor(shapeRandom() * 2);
  const drawnMode = modes[Math.floor(shapeRandom() * 3)]!;
  const nodes = opts.nodes ?? drawnNodes;
  const rf = opts.replicationFactor ?? Math.min(nodes, drawnRf);
  const mode = opts.mode ?? drawnMode;
  const faultMs = opts.faultMs ?? 3_000;
  // Clocks draw from their own stream, so giving --clocks leaves every other draw of the seed as it was.
  const clockRandom = seededRandom(opts.seed ^ 0xc10c);
  const drawnClocks = clockModes[Math.floor(clockRandom() * clockModes.length)]!; // always drawn, as the shape is
  const clocks = opts.clocks ?? drawnClocks;
  const partitioner = opts.partitioner ?? 'byte-ordered';
  const sim = new SimCluster({ seed: opts.seed, nodes, replicationFactor: rf, repairMode: mode, configOverrides: { partitioner } });
  const random = seededRandom(opts.seed ^ 0xc0ffee);
  const hashedKeys = partitioner === 'hashed' ? textKeys(opts.keys ?? 2_000) : null;
  const shape = `${nodes} nodes, RF ${rf}, ${mode}, clocks ${clocks}${hashedKeys === null ? '' : `, hashed over ${hashedKeys.length} keys`}`;
  const badClocks = setClocks(sim, clockRandom, clocks, faultMs);
  const result: SeedResult = {
    seed: opts.seed, shape, nodes, replicationFactor: rf, mode, clocks, faultMs, partitioner, keys: hashedKeys?.length ?? 6, failures: [], log: sim.logLines,
    stats: { ops: 0, acked: 0, failed: 0, noReply: 0, crashes: 0, partitions: 0, steps: 0, junk: 0, diskFull: 0 },
  };
  const history: Op[] = [];
  const crashes: { node: number; atMs: number }[] = [];
  const keys: Key[] = hashedKeys ?? Array.from({ length: 6 }, (_, i) => (i * 43 + Math.floor(random() * 40)) % 256);
  const usable = levels.filter((l) => requiredAcks(l, rf).ok);
  // Byte-ordered: one draw per pick, as it always was (a seed replays as before). Hashed: half on 6 hot keys, half over all.
  const pickKey = hashedKeys === null
    ? () => keys[Math.floor(random() * keys.length)]!
    : () => (random() < 0.5 ? keys[Math.floor(random() * 6)]! : keys[Math.floor(random() * keys.length)]!);

  try {
    const clients = startClients(sim, random, opts.clients ?? 3, pickKey, usable, history, () => sim.now < endOfFaults);
    const endOfFaults = sim.now + faultMs;
    if (opts.faults !== false) scheduleFaults(sim, random, faultMs, result, crashes);
    sim.runFor(faultMs);
    // Heal: every node back, the network clean, a clock beyond the bound set right (NTP) and its
    // replica restarted, as the README says; let clients finish what they started.
    sim.heal();
    for (const bad of badClocks) {
      if (sim.isRunning(bad.node)) crashes.push({ node: bad.node, atMs: sim.now });
      sim.crash(bad.node, false);
      sim.setClock(bad.node, 0);
      bad.healedMs = sim.now;
    }
    for (let i = 0; i < nodes; i++) sim.restart(i);
    sim.runUntil(() => clients.every((c) => c.idle), clientDeadlineMs * 2);
    // No reads after healing: hints, and anti-entropy whatever the mode, must converge every key
    // by themselves within two anti-entropy intervals (plus the time to see every peer UP again).
    const { downAfterMs, hintSweepIntervalMs, antiEntropyIntervalMs } = sim.config;
    sim.runFor(downAfterMs * 2 + Math.max(hintSweepIntervalMs * 3, antiEntropyIntervalMs * 2) + 1_000);
    // Hashed: the keys some operation touched (the rest were never written anywhere).
    check(sim, history, mode, rf, hashedKeys === null ? keys : [...new Set(history.map((o) => o.key))], result, badClocks);
    checkClientOrder(sim, history, badClocks, result);
    checkReadyMeansServing(sim, history, badClocks, result);
  } catch (e) {
    if (e instanceof StepError) result.failures.push(`a step threw or broke an invariant: ${e.message}`);
    else result.failures.push(`simulation error: ${(e as Error).stack ?? e}`);
  }
  result.stats.ops = history.length;
  result.stats.acked = history.filter((o) => o.outcome === 'ok').length;
  result.stats.failed = history.filter((o) => o.outcome === 'fail').length;
  result.stats.noReply = history.filter((o) => o.outcome === 'noreply').length;
  result.stats.steps = sim.stepCount;
  return result;
}

interface SimClient { idle: boolean }

/** Each client runs one request at a time, retransmitting it until it is answered or gives up. */
function startClients(sim: SimCluster, random: Random, count: number, pickKey: () => Key, usable: readonly Level[], history: Op[], running: () => boolean): SimClient[] {
  const out: SimClient[] = [];
  for (let c = 0; c < count; c++) {
    const address = `127.0.0.2:${5000 + c}`;
    const state: SimClient = { idle: false };
    out.push(state);
    // Ids start at a random point, as the real client's do (src/client/client.ts).
    let nextId = 1 + Math.floor(random() * 2 ** 40);
    let current: { op: Op; id: number; sends: number } | null = null;
    let seq = 0;
    // The newest stamp this client was answered with, sent with each request (as KvClient does).
    let seen: Stamp | null = null;
    const next = () => {
      if (!running()) { state.idle = true; current = null; return; }
      const key = pickKey();
      const level = usable[Math.floor(random() * usable.length)]!;
      const coordinator = Math.floor(random() * sim.config.nodes.length);
      const pick = random();
      const kind = pick < 0.4 ? 'put' : pick < 0.55 ? 'del' : 'get';
      const op: Op = { client: c, kind, key, level, coordinator, invokeMs: sim.now };
      if (kind === 'put') op.value = `c${c}-${seq++}`;
      history.push(op);
      const id = nextId++;
      current = { op, id, sends: 0 };
      const sentAtMs = Math.floor(op.invokeMs);
      const requestAge = { sentAtMs, deadlineMs: sentAtMs + clientDeadlineMs, ...(seen === null ? {} : { seen }) };
      const msg: Message = kind === 'put' ? { t: 'put', id, key, value: op.value!, level, ...requestAge } : { t: kind, id, key, level, ...requestAge };
      const attempt = () => {
        if (current?.id !== id) return;
        if (sim.now - op.invokeMs >= clientDeadlineMs) {
          op.outcome = 'noreply';
          op.completeMs = sim.now;
          return next();
        }
        current.sends++;
        sim.clientSend(address, coordinator, msg as never);
        sim.at(clientRetryMs, attempt);
      };
      attempt();
    };
    sim.addClient(address, (reply: ClientReply) => {
      if (current === null || reply.id !== current.id) return;
      const op = current.op;
      const resent = current.sends > 1;
      current = null;
      op.completeMs = sim.now;
      // Like KvClient's ClockSkewError.mayHaveRun: a resent write refused as expired may have run from an earlier copy.
      if (reply.t === 'fail' && reply.error === 'ClockSkew' && reply.dated === 'expired' && resent && op.kind !== 'get') { op.outcome = 'noreply'; op.error = reply.error; }
      else if (reply.t === 'fail') {
        op.outcome = 'fail';
        op.error = reply.error;
        if (reply.error === 'Timeout' && / restarted \(generation \d+\) after this /.test(reply.message)) op.refusedAsBeforeRestartReadyMs = sim.servingSince(op.coordinator);
      }
      else if (reply.t === 'put.ok' || reply.t === 'del.ok') { op.outcome = 'ok'; op.stamp = reply.stamp; }
      else if (reply.t === 'get.ok') { op.outcome = 'ok'; op.stamp = reply.stamp; op.got = reply.value; }
      // Like KvClient: a stamp beyond the bound of the client's own (true) clock is not carried.
      const stamp = op.stamp ?? null;
      if (stamp !== null && (seen === null || compareStamps(stamp, seen) > 0) && stamp[0] <= sim.now + sim.config.maxClockSkewMs) seen = stamp;
      sim.at(random() * 10, next);
    });
    sim.at(random() * 10, next);
  }
  return out;
}

/**
 * skewed: every clock off by up to ±0.45 of the bound (so any two within it) and drifting up to
 * ±0.2%. bad: the same, and during the faults one clock jumps 2 to 100 bounds ahead or behind.
 */
function setClocks(sim: SimCluster, random: Random, mode: ClockMode, faultMs: number): BadClock[] {
  if (mode === 'exact') return [];
  const bound = sim.config.maxClockSkewMs;
  for (let i = 0; i < sim.config.nodes.length; i++) sim.setClock(i, (random() - 0.5) * 0.9 * bound, (random() - 0.5) * 0.004);
  if (mode !== 'bad') return [];
  const node = Math.floor(random() * sim.config.nodes.length);
  const offsetMs = (random() < 0.5 ? -1 : 1) * bound * (2 + random() * 98);
  const bad: BadClock = { node, jumpMs: sim.now + random() * faultMs * 0.8, offsetMs, healedMs: Infinity };
  sim.at(bad.jumpMs - sim.now, () => sim.setClock(node, offsetMs));
  return [bad];
}

function scheduleFaults(sim: SimCluster, random: Random, faultMs: number, result: SeedResult, crashes: { node: number; atMs: number }[]): void {
  const n = sim.config.nodes.length;
  sim.faults = { lossRate: random() * 0.2, duplicateRate: random() * 0.05 };
  for (let t = random() * 400; t < faultMs; t += 200 + random() * 800) {
    const pick = random();
    const node = Math.floor(random() * n);
    const lastsMs = 100 + random() * 1_200;
    if (pick < 0.35) {
      sim.at(t, () => {
        if (!sim.isRunning(node)) return;
        crashes.push({ node, atMs: sim.now });
        result.stats.crashes++;
        sim.crash(node);
        sim.at(lastsMs, () => sim.restart(node));
      });
    } else if (pick < 0.5) {
      sim.at(t, () => { result.stats.partitions++; sim.isolate(node); sim.at(lastsMs, () => sim.heal()); });
    } else if (pick < 0.6) {
      // One way only: what the node sends to another is lost, what it receives from it arrives.
      sim.at(t, () => {
        const other = (node + 1 + Math.floor(random() * (n - 1))) % n;
        result.stats.partitions++;
        if (other !== node) sim.cutOneWay(sim.addresses[node]!, sim.addresses[other]!);
        sim.at(lastsMs, () => sim.heal());
      });
    } else if (pick < 0.75) {
      sim.at(t, () => {
        const cut = 1 + Math.floor(random() * (n - 1));
        result.stats.partitions++;
        sim.partition(sim.addresses.slice(0, cut), sim.addresses.slice(cut));
        sim.at(lastsMs, () => sim.heal());
      });
    } else if (pick < 0.85) {
      // A disk that fills for a while: that replica acks no writes until it has room again.
      sim.at(t, () => { result.stats.diskFull++; sim.fillDisk(node, lastsMs); });
    } else {
      sim.at(t, () => {
        if (!sim.isRunning(node)) return;
        for (let j = 0; j < 5; j++) { result.stats.junk++; sim.inject(node, junkFrom(random), junk(random, n)); }
      });
    }
  }
}

/** Something that decoded from a datagram: garbage, or a well-formed message from the wrong place. */
function junk(random: Random, n: number): unknown {
  const pick = (xs: unknown[]) => xs[Math.floor(random() * xs.length)];
  const anyValue = () => pick([null, -1, 1.5, 256, 17, 'x', '\ud800', [], {}, [1, 2, 3], Number.MAX_SAFE_INTEGER + 2, true]);
  const t = pick(['get', 'put', 'del', 'local', 'status', 'repair', 'rw', 'rw.ok', 'rr', 'rr.ok', 'hints', 'hints.ok', 'hb', 'get.ok', 'fail',
    'ae', 'ae.ok', 'ae.pull', 'ae.pull.ok', 'nope', 7]);
  if (random() < 0.5) {
    return {
      t, id: anyValue(), key: anyValue(), value: anyValue(), level: pick(['ONE', 'ALL', 'one', 5]), from: anyValue(), gen: anyValue(), stamp: anyValue(),
      writes: anyValue(), hlc: anyValue(), digests: anyValue(), blocks: anyValue(), versions: anyValue(), keys: anyValue(),
    };
  }
  // Well formed, so only the address check or the replica-set check stands in its way.
  const from = Math.floor(random() * n);
  const key = Math.floor(random() * 256);
  return pick([
    { t: 'rw', from, gen: 1, id: 99, key, value: 'forged', stamp: [9e12, 0, from] },
    { t: 'hints', from, gen: 1, id: 98, writes: [[key, 'forged', [9e12, 0, from]]] },
    { t: 'rw', from, gen: 1, id: 97, key, value: null, stamp: [9e12, 0, from] },
    { t: 'ae', from, gen: 1, id: 96, digests: [[0, 1]] },
    { t: 'ae.pull.ok', from, id: 95, writes: [[key, 'forged', [9e12, 0, from]]] },
    { t: 'ae.ok', from, id: 94, blocks: [0], versions: [[key, [9e12, 0, from], 6]] },
    { t: 'hb', from, gen: 9e12, counter: 1, hlc: [9e12, 0, from] },
    { t: 'rw.ok', from, id: 1 },
    { t: 'status', id: 5 },
  ]);
}

function junkFrom(random: Random): string {
  return random() < 0.5 ? `127.0.0.9:${Math.floor(random() * 65536)}` : `127.0.0.1:${9000 + Math.floor(random() * 10)}`;
}

// ---- checkers ---------------------------------------------------------------------------------------

function acksFor(level: Level, rf: number): number {
  const r = requiredAcks(level, rf);
  return r.ok ? r.acks : Infinity;
}

function cmp(a: Stamp | null | undefined, b: Stamp | null | undefined): number {
  if (a == null) return b == null ? 0 : -1;
  if (b == null) return 1;
  return compareStamps(a, b);
}

function check(sim: SimCluster, history: Op[], mode: RepairMode, rf: number, keys: Key[], result: SeedResult, badClocks: BadClock[]): void {
  const fail = (m: string) => result.failures.push(m);
  // What a clock beyond the bound did before the cluster noticed (within a heartbeat or two) is not
  // promised: an ack at ONE from its own poisoned copy (dropped at its restart), a read of that copy.
  const trusted = (o: Op) => !madeByBadClock(o, badClocks, sim.config.maxClockSkewMs);
  // Puts and dels alike: a delete is a write of a tombstone and is checked as a version.
  const writes = history.filter((o) => o.kind !== 'get' && trusted(o));
  const gets = history.filter((o) => o.kind === 'get' && o.outcome === 'ok' && trusted(o));
  const written = new Map<string, Op>();
  for (const p of history) if (p.value !== undefined) written.set(p.value, p);
  const describeWrite = (w: Op) => (w.kind === 'del' ? 'del' : `put ${w.value}`);
  const describeRead = (g: Op) => (g.stamp ? `${g.got ?? 'not found (tombstone)'}@${formatStamp(g.stamp)}` : 'not found');

  // A read that starts after a write was acknowledged by W replicas, reading R replicas with
  // W + R > RF, sees that write or a newer one (QUORUM/QUORUM is the common case). For a del,
  // that means not found: an older value coming back is caught here as a stale read.
  for (const g of gets) {
    const r = acksFor(g.level, rf);
    for (const w of writes) {
      if (w.outcome !== 'ok' || w.key !== g.key || w.completeMs! > g.invokeMs) continue;
      if (acksFor(w.level, rf) + r <= rf) continue;
      if (cmp(g.stamp, w.stamp) < 0) {
        fail(`stale read: get key ${g.key} at ${g.level} (from ${g.invokeMs}) returned ${describeRead(g)}, ` +
          `but ${describeWrite(w)} at ${w.level} was acknowledged at ${w.completeMs} with ${formatStamp(w.stamp!)}`);
        break;
      }
    }
  }
  // With blocking read repair, a read never goes back in time behind an earlier overlapping read.
  if (mode !== 'hinted-handoff') {
    for (const g of gets) {
      for (const earlier of gets) {
        if (earlier.key !== g.key || earlier.completeMs! > g.invokeMs) continue;
        if (acksFor(earlier.level, rf) + acksFor(g.level, rf) <= rf) continue;
        if (cmp(g.stamp, earlier.stamp) < 0) {
          fail(`read went back in time: get key ${g.key} at ${g.level} (from ${g.invokeMs}) returned ${describeRead(g)} ` +
            `after a get at ${earlier.level} returned ${describeRead(earlier)} at ${earlier.completeMs}`);
          break;
        }
      }
    }
  }
  // A value a read returned was written by someone; a tombstone was written by a del of that key.
  const deleted = new Set(history.filter((w) => w.kind === 'del').map((w) => w.key));
  for (const g of gets) {
    if (g.got != null && !written.has(g.got)) fail(`get key ${g.key} returned ${g.got}, which no client wrote`);
    if (g.got == null && g.stamp != null && !deleted.has(g.key)) fail(`get key ${g.key} found a tombstone, but no client deleted it`);
  }

  // A write refused as Unavailable, Overloaded or InvalidRequest promised that nothing was written:
  // its value is never read nor held anywhere.
  const refused = new Set(history.filter((o) => o.kind === 'put' && o.outcome === 'fail' && o.error !== 'Timeout' && trusted(o)).map((o) => o.value!));
  const refusal = (v: string) => { const p = history.find((o) => o.value === v)!; return `${p.error} via ${sim.config.nodes[p.coordinator]!.name} at ${p.invokeMs}..${p.completeMs}`; };
  for (const g of gets) if (g.got != null && refused.has(g.got)) fail(`get key ${g.key} returned ${g.got}, whose put was refused (${refusal(g.got)}: nothing written)`);
  for (const key of keys) {
    for (const r of sim.node(0).ring.replicasFor(key)) {
      const v = sim.node(r).store.read(key)?.value;
      if (v != null && refused.has(v)) fail(`key ${key}: ${sim.config.nodes[r]!.name} holds ${v}, whose put was refused (nothing written)`);
    }
  }

  // Each write is stamped once: a value seen with two stamps was stamped twice (a coordinator ran
  // the same put again), and its second stamp could overwrite writes acknowledged in between.
  const stampOf = new Map<string, Stamp>();
  const seen = (value: string, stamp: Stamp, where: string) => {
    const first = stampOf.get(value);
    if (first === undefined) stampOf.set(value, stamp);
    else if (compareStamps(first, stamp) !== 0) fail(`${value} stamped twice: ${formatStamp(first)} and ${formatStamp(stamp)} (${where})`);
  };
  for (const w of writes) if (w.kind === 'put' && w.outcome === 'ok') seen(w.value!, w.stamp!, `put acknowledged at ${w.completeMs}`);
  for (const g of gets) if (g.got != null && g.stamp != null) seen(g.got, g.stamp, `get of key ${g.key} at ${g.completeMs}`);
  for (const key of keys) {
    for (const r of sim.node(0).ring.replicasFor(key)) {
      const v = sim.node(r).store.read(key);
      if (v?.value != null) seen(v.value, v.stamp, `held by ${sim.config.nodes[r]!.name} after healing`);
    }
  }
  // Keys a clock beyond the bound wrote to are not promised to converge to any acknowledged write.
  const uncertain = new Set(history.filter((o) => o.kind !== 'get' && !trusted(o)).map((o) => o.key));

  // After healing, with no reads: every replica of every key holds the latest acknowledged write
  // or a newer one, and all of them the same version, in every repair mode (anti-entropy).
  for (const key of keys) {
    const acked = writes.filter((w) => w.key === key && w.outcome === 'ok');
    const latest = acked.reduce<Stamp | null>((s, w) => (cmp(w.stamp, s) > 0 ? w.stamp! : s), null);
    const replicas = sim.node(0).ring.replicasFor(key);
    const held = replicas.map((r) => sim.node(r).store.read(key) ?? null);
    const describe = () => replicas.map((r, i) => {
      const v = held[i];
      return `${sim.config.nodes[r]!.name}=${v ? `${v.value ?? 'tombstone'}@${formatStamp(v.stamp)}` : 'none'}`;
    }).join(', ');
    for (const v of held) {
      if (v !== null && v.value !== null && !written.has(v.value)) fail(`key ${key}: a replica holds ${v.value}, which no client wrote`);
      if (v !== null && v.value === null && !deleted.has(key)) fail(`key ${key}: a replica holds a tombstone, but no client deleted it`);
    }
    if (uncertain.has(key)) continue;
    if (latest !== null) {
      const survivors = held.filter((v) => v !== null && compareStamps(v.stamp, latest) >= 0).length;
      if (survivors === 0) fail(`key ${key}: acknowledged write ${formatStamp(latest)} lost (${describe()})`);
      else if (survivors < held.length) fail(`key ${key}: not every replica has the acknowledged write ${formatStamp(latest)} after healing (${describe()})`);
    }
    const first = held[0] ?? null;
    if (held.some((v) => cmp(v?.stamp, first?.stamp) !== 0)) fail(`key ${key}: replicas did not converge after healing (${describe()})`);
  }
}

/** Coordinated by a node while its clock was beyond the bound, or answered with a stamp beyond it. */
function madeByBadClock(o: Op, badClocks: BadClock[], boundMs: number): boolean {
  if (o.stamp != null && o.stamp[0] > (o.completeMs ?? o.invokeMs) + boundMs) return true;
  return badClocks.some((b) => o.coordinator === b.node && (o.completeMs ?? Infinity) >= b.jumpMs && o.invokeMs <= b.healedMs);
}

/**
 * With the client's newest-seen stamp, a client's acknowledged write is never lost to one of its own
 * earlier writes (or to a version it had read): it is stamped after everything the client saw,
 * whichever coordinator served it and however the clocks stand.
 */
function checkClientOrder(sim: SimCluster, history: Op[], badClocks: BadClock[], result: SeedResult): void {
  const bound = sim.config.maxClockSkewMs;
  const byClient = new Map<number, Op[]>();
  for (const o of history) if (o.client >= 0 && o.outcome === 'ok') byClient.set(o.client, [...(byClient.get(o.client) ?? []), o]);
  for (const ops of byClient.values()) {
    for (const later of ops) {
      if (later.kind !== 'put' || madeByBadClock(later, badClocks, bound)) continue;
      for (const earlier of ops) {
        if (earlier === later || earlier.completeMs! > later.invokeMs || earlier.stamp == null || madeByBadClock(earlier, badClocks, bound)) continue;
        if (earlier.key === later.key && cmp(later.stamp, earlier.stamp) <= 0) {
          result.failures.push(`client ${later.client}: put ${later.value} of key ${later.key} via ${sim.config.nodes[later.coordinator]!.name} ` +
            `stamped ${formatStamp(later.stamp!)}, not after its own earlier ${earlier.kind} of it (${formatStamp(earlier.stamp)} via ` +
            `${sim.config.nodes[earlier.coordinator]!.name}): the later write would lose`);
          return;
        }
      }
    }
  }
}

/**
 * A replica that said it was ready (pm2's 'ready') serves every write sent after that: none sent
 * later is refused as one its previous process may have stamped (core/restart-wait.ts), whatever
 * the clocks within the bound. The answer comes from the incarnation that is ready, or a later one
 * (then its readiness is later still).
 */
function checkReadyMeansServing(sim: SimCluster, history: Op[], badClocks: BadClock[], result: SeedResult): void {
  for (const o of history) {
    const readyMs = o.refusedAsBeforeRestartReadyMs;
    if (readyMs == null || readyMs > o.invokeMs || madeByBadClock(o, badClocks, sim.config.maxClockSkewMs)) continue;
    result.failures.push(`client ${o.client}: ${o.kind} of key ${o.key} sent at ${o.invokeMs.toFixed(1)} via ${sim.config.nodes[o.coordinator]!.name}, ` +
      `ready since ${readyMs.toFixed(1)}, was refused as sent before its restart`);
    return;
  }
}

export function summarize(r: SeedResult): string {
  const s = r.stats;
  return `seed ${r.seed} (${r.shape}): ${r.failures.length === 0 ? 'ok' : `FAILED (${r.failures.length})`}; ` +
    `${count(s.ops, 'op')} (${s.acked} ok, ${s.failed} refused, ${s.noReply} unanswered), ${count(s.crashes, 'crash', 'crashes')}, ${count(s.partitions, 'partition')}, ${s.junk} junk, ${count(s.steps, 'step')}`;
}
