// A whole ringkv cluster in one process on a virtual clock: the real Node state machine, driven
// through the real Outbox (persist before send), over a seeded network (loss, duplication, delay,
// reordering, partitions) and seeded disks (fsync latency, group commit, crashes that lose unsynced
// records and may tear the last one). Everything random comes from one seed, so a failure replays.
import { Encoder } from 'cbor-x';
import type { Effect, Input } from '../../src/core/effects.js';
import { encodeRecord, scanRecords, type LogRecord } from '../../src/core/log-record.js';
import { validate, type ClientReply, type ClientRequest, type Message } from '../../src/core/messages.js';
import { eitherKind, keySpaceOf, type KeySpace } from '../../src/core/keyspace.js';
import { datagramBytesMax } from '../../src/core/limits.js';
import { Node } from '../../src/core/node.js';
import { tagBytes } from '../../src/io/codec.js';
import { Outbox, type Outgoing } from '../../src/core/outbox.js';
import { seededRandom, type Random } from '../../src/core/prng.js';
import { addressOf, type Address, type ClusterConfig, type NodeIndex, type RepairMode } from '../../src/core/types.js';

export interface SimOptions {
  seed: number;
  nodes?: number;
  replicationFactor?: number;
  repairMode?: RepairMode;
  readRepairBlocking?: boolean;
  /** Start time of the virtual clock (wall ms). */
  startMs?: number;
  tickMs?: number;
  netDelayMsMin?: number;
  netDelayMsMax?: number;
  fsyncMsMin?: number;
  fsyncMsMax?: number;
  configOverrides?: Partial<ClusterConfig>;
}

/** A node's wall clock: virtual time plus an offset, plus drift (ms gained per ms) since sinceMs. */
export interface SimClock { offsetMs: number; drift: number; sinceMs: number }

export interface NetFaults {
  lossRate: number;
  duplicateRate: number;
}

/** A node's disk: a snapshot and the records after it; unsynced records die with a crash. */
class SimDisk {
  snapshot: LogRecord | null = null;
  durable: { lsn: number; incarnation: number; bytes: Uint8Array }[] = [];
  tornTail: Uint8Array | null = null;
  unsynced: { lsn: number; bytes: Uint8Array; record: LogRecord }[] = [];
  syncing: { lsn: number; bytes: Uint8Array; record: LogRecord }[] | null = null;
  /** Until then (virtual ms) every write is refused for lack of space, as a full disk does (ENOSPC). */
  fullUntilMs = -Infinity;
  /** Batches of records refused by a full disk. */
  refusedBatches = 0;

  bytes(): number {
    return this.durable.reduce((n, r) => n + r.bytes.length, 0);
  }
}

interface SimNode {
  index: NodeIndex;
  node: Node | null;
  outbox: Outbox;
  disk: SimDisk;
  incarnation: number;
  generation: number;
  /** Records lost (unsynced) at crashes, for the checkers. */
  lostAtCrash: LogRecord[];
  /** When (virtual time) this incarnation's 'serving' effect came: kvd's pm2 'ready'; null before. */
  servingAtMs: number | null;
  /** The last incarnation stopped cleanly at this time of its clock (io/generation.ts's record); null: it crashed. */
  stoppedAtMs: number | null;
}

type Event =
  | { kind: 'deliver'; to: Address; from: Address; msg: Message }
  | { kind: 'fsync'; node: NodeIndex; incarnation: number }
  | { kind: 'tick' }
  | { kind: 'call'; fn: () => void };

interface Scheduled { at: number; seq: number; event: Event }

/** Encodes as the codec does, to measure what each message would take on the wire. */
const wire = new Encoder({ mapsAsObjects: true, useRecords: false });

export class StepError extends Error {
  override name = 'StepError';
}

export function simConfig(nodes: number, rf: number, mode: RepairMode, blocking: boolean, overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    nodes: Array.from({ length: nodes }, (_, i) => ({ name: `replica-${i + 1}`, host: '127.0.0.1', port: 7101 + i })),
    replicationFactor: rf,
    repairMode: mode,
    readRepairBlocking: blocking,
    gossipIntervalMs: 100,
    downAfterMs: 500,
    writeTimeoutMs: 500,
    readTimeoutMs: 500,
    maxHintWindowMs: 3_600_000,
    hintSweepIntervalMs: 500,
    antiEntropyIntervalMs: 1_000,
    valueBytesMax: 60_000,
    maxClockSkewMs: 500,
    dataDir: 'sim',
    cookieFile: 'sim/cookie',
    ...overrides,
  };
}

export class SimCluster {
  readonly config: ClusterConfig;
  readonly keySpace: KeySpace;
  readonly random: Random;
  readonly nodes: SimNode[];
  readonly addresses: Address[];
  now: number;
  faults: NetFaults = { lossRate: 0, duplicateRate: 0 };
  /** Pairs of addresses that cannot talk (both directions). */
  private readonly cut = new Set<string>();
  private readonly queue: Scheduled[] = [];
  private seq = 0;
  private readonly clients = new Map<Address, (reply: ClientReply) => void>();
  readonly logLines: string[] = [];
  private readonly clockHighMs: number[] = [];
  /** Every node's wall clock; all exact until setClock. */
  readonly clocks: SimClock[];
  stepCount = 0;
  /** Sees every message put on the wire, with its size as a datagram (tests that count bytes). */
  watchWire: ((msg: Message, bytes: number) => void) | null = null;
  readonly options: Required<Omit<SimOptions, 'configOverrides' | 'repairMode' | 'readRepairBlocking'>>;

  constructor(opts: SimOptions) {
    this.options = {
      seed: opts.seed, nodes: opts.nodes ?? 4, replicationFactor: opts.replicationFactor ?? 3, startMs: opts.startMs ?? 1_700_000_000_000,
      tickMs: opts.tickMs ?? 5, netDelayMsMin: opts.netDelayMsMin ?? 0.05, netDelayMsMax: opts.netDelayMsMax ?? 3,
      fsyncMsMin: opts.fsyncMsMin ?? 0.1, fsyncMsMax: opts.fsyncMsMax ?? 2,
    };
    this.config = simConfig(this.options.nodes, this.options.replicationFactor, opts.repairMode ?? 'hinted-handoff', opts.readRepairBlocking ?? true, opts.configOverrides);
    this.keySpace = keySpaceOf(this.config);
    this.random = seededRandom(opts.seed);
    this.now = this.options.startMs;
    this.addresses = this.config.nodes.map(addressOf);
    this.clocks = this.config.nodes.map(() => ({ offsetMs: 0, drift: 0, sinceMs: this.now }));
    this.nodes = this.config.nodes.map((_, index) => ({
      index, node: null, outbox: new Outbox(), disk: new SimDisk(), incarnation: 0, generation: 0, lostAtCrash: [], servingAtMs: null, stoppedAtMs: null,
    }));
    for (let i = 0; i < this.nodes.length; i++) this.boot(i);
    this.schedule(this.options.tickMs, { kind: 'tick' });
  }

  // ---- time and events -------------------------------------------------------------------------

  /** What node i's wall clock reads now. Drift above -1 keeps each clock moving forward between jumps. */
  localNow(i: NodeIndex): number {
    const c = this.clocks[i]!;
    return this.now + c.offsetMs + c.drift * (this.now - c.sinceMs);
  }

  /** Sets node i's clock from now on: a jump to offsetMs from true time, then drifting. */
  setClock(i: NodeIndex, offsetMs: number, drift = 0): void {
    if (!(drift > -1)) throw new RangeError(`sim: drift ${drift} would stop or reverse a clock`);
    this.clocks[i] = { offsetMs, drift, sinceMs: this.now };
  }

  private schedule(afterMs: number, event: Event): void {
    const item = { at: this.now + afterMs, seq: this.seq++, event };
    const q = this.queue;
    q.push(item);
    let i = q.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (before(q[parent]!, item)) break;
      q[i] = q[parent]!;
      i = parent;
    }
    q[i] = item;
  }

  private pop(): Scheduled | undefined {
    const q = this.queue;
    const top = q[0];
    const last = q.pop();
    if (top === undefined || last === undefined || q.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      const cand = (k: number) => (k < q.length && before(q[k]!, m === i ? last : q[m]!) ? k : m);
      m = cand(l);
      m = cand(r);
      if (m === i) break;
      q[i] = q[m]!;
      i = m;
    }
    q[i] = last;
    return top;
  }

  /** Calls fn at now + afterMs of virtual time. */
  at(afterMs: number, fn: () => void): void {
    this.schedule(afterMs, { kind: 'call', fn });
  }

  runFor(ms: number): void {
    this.runUntil(() => false, ms);
  }

  /** Runs events until `done()` holds (checked after each event) or `limitMs` of virtual time passed. */
  runUntil(done: () => boolean, limitMs: number): boolean {
    const end = this.now + limitMs;
    while (this.queue.length > 0 && this.queue[0]!.at <= end) {
      const item = this.pop()!;
      this.now = Math.max(this.now, item.at);
      this.handle(item.event);
      if (done()) return true;
    }
    this.now = Math.max(this.now, end);
    return done();
  }

  private handle(e: Event): void {
    switch (e.kind) {
      case 'tick':
        for (const n of this.nodes) if (n.node !== null) this.step(n, { kind: 'tick' });
        this.schedule(this.options.tickMs, { kind: 'tick' });
        break;
      case 'deliver': return this.deliver(e.to, e.from, e.msg);
      case 'fsync': return this.fsyncDone(e.node, e.incarnation);
      case 'call': return e.fn();
    }
  }

  // ---- nodes -----------------------------------------------------------------------------------

  node(i: NodeIndex): Node {
    const n = this.nodes[i]?.node;
    if (n === null || n === undefined) throw new Error(`sim: node ${i} is down`);
    return n;
  }

  isRunning(i: NodeIndex): boolean {
    return this.nodes[i]?.node !== null;
  }

  private boot(i: NodeIndex): void {
    const n = this.nodes[i]!;
    n.incarnation++;
    n.generation = Math.max(n.generation + 1, Math.floor(this.localNow(i)));
    const node = new Node({
      config: this.config, self: i, generation: n.generation, restarted: n.incarnation > 1, ...(n.stoppedAtMs === null ? {} : { previousStoppedAtMs: n.stoppedAtMs }),
      random: seededRandom(this.random() * 2 ** 32), nowMs: this.localNow(i),
    });
    n.stoppedAtMs = null;
    // Replay: the snapshot, then every durable record; a torn tail is cut off, as log-file does.
    if (n.disk.snapshot !== null) node.replay(n.disk.snapshot);
    const parts = n.disk.durable.map((r) => r.bytes);
    if (n.disk.tornTail !== null) parts.push(n.disk.tornTail);
    const scan = scanRecords(concat(parts), eitherKind);
    for (const r of scan.records) node.replay(r);
    if (n.disk.tornTail !== null) {
      node.replayTruncated(n.disk.tornTail.length);
      n.disk.tornTail = null;
    }
    if (scan.records.length !== n.disk.durable.length) throw new Error(`sim: replay of ${i} read ${scan.records.length} of ${n.disk.durable.length} durable records (${scan.stopReason})`);
    n.node = node;
    n.outbox = new Outbox();
    n.servingAtMs = null;
    this.step(n, { kind: 'start' });
  }

  /** Kills the node: unsynced records are lost, and the first of them may be torn onto the disk. */
  crash(i: NodeIndex, tear = this.random() < 0.5): void {
    const n = this.nodes[i]!;
    if (n.node === null) return;
    const lost = [...(n.disk.syncing ?? []), ...n.disk.unsynced];
    n.lostAtCrash.push(...lost.map((r) => r.record));
    const first = lost[0];
    if (tear && first !== undefined && first.bytes.length > 1) {
      n.disk.tornTail = first.bytes.slice(0, 1 + Math.floor(this.random() * (first.bytes.length - 1)));
    }
    n.disk.unsynced = [];
    n.disk.syncing = null;
    n.node = null;
  }

  /**
   * `pm2 stop`: the node handles nothing more, its appends in flight become durable (the runtime's
   * last fsyncs), and the stop is recorded, so its next start waits out the clock bound from here.
   */
  stopCleanly(i: NodeIndex): void {
    const n = this.nodes[i]!;
    if (n.node === null) return;
    for (const r of [...(n.disk.syncing ?? []), ...n.disk.unsynced]) n.disk.durable.push({ lsn: r.lsn, incarnation: n.incarnation, bytes: r.bytes });
    n.disk.syncing = null;
    n.disk.unsynced = [];
    n.node = null;
    n.stoppedAtMs = Math.ceil(this.localNow(i));
  }

  /** Kills the node and loses its disk: it restarts empty, as a replica rebuilt on a new machine does. */
  wipe(i: NodeIndex): void {
    this.crash(i, false);
    const disk = this.nodes[i]!.disk;
    disk.snapshot = null;
    disk.durable = [];
    disk.tornTail = null;
  }

  /** The node's disk refuses every write for the next `forMs` of virtual time, then has room again. */
  fillDisk(i: NodeIndex, forMs: number): void {
    this.nodes[i]!.disk.fullUntilMs = this.now + forMs;
  }

  /** Batches of records the node's disk refused while full. */
  refusedBatches(i: NodeIndex): number {
    return this.nodes[i]!.disk.refusedBatches;
  }

  /** When the node's current incarnation began to coordinate writes (its pm2 'ready'), or null: not yet. */
  servingSince(i: NodeIndex): number | null {
    return this.nodes[i]!.servingAtMs;
  }

  restart(i: NodeIndex): void {
    if (this.nodes[i]!.node === null) this.boot(i);
  }

  private step(n: SimNode, input: Input): void {
    const node = n.node;
    if (node === null) return;
    let effects: Effect[];
    try {
      effects = node.step(input, this.localNow(n.index));
    } catch (e) {
      throw new StepError(`node ${n.index} threw on ${input.kind} at ${this.now}: ${(e as Error).stack ?? e}`);
    }
    this.stepCount++;
    const bad = node.invariants();
    if (bad.length > 0) throw new StepError(`node ${n.index} invariants after ${input.kind} at ${this.now}: ${bad.join('; ')}`);
    const routed = n.outbox.route(effects);
    this.checkStampsWithinBound(n.index, routed.appends.map((a) => a.record));
    for (const a of routed.appends) n.disk.unsynced.push({ lsn: a.lsn, record: a.record, bytes: encodeRecord(a.record) });
    for (const s of routed.snapshots) {
      n.disk.snapshot = s.record;
      n.disk.durable = n.disk.durable.filter((r) => r.incarnation === n.incarnation && r.lsn > s.coversLsn);
    }
    for (const l of routed.logs) this.logLines.push(`${this.now.toFixed(1)} ${this.config.nodes[n.index]!.name} ${l.event.name}: ${l.event.text}`);
    for (const out of routed.sendsNow) this.transmit(this.addresses[n.index]!, out);
    if (routed.serving) n.servingAtMs = this.now;
    if (n.disk.syncing === null && n.disk.unsynced.length > 0) this.startFsync(n);
  }

  /** No node ever stores a version (or hint) stamped further ahead of its own clock than max_clock_skew_ms. */
  private checkStampsWithinBound(i: NodeIndex, records: LogRecord[]): void {
    // Against the furthest this clock has read: a clock stepped back does not make earlier stamps poisoned.
    this.clockHighMs[i] = Math.max(this.clockHighMs[i] ?? -Infinity, this.localNow(i));
    const bound = this.clockHighMs[i]! + this.config.maxClockSkewMs;
    for (const r of records) {
      if ((r.t === 'w' || r.t === 'h') && r.stamp[0] > bound) {
        throw new StepError(`node ${i} stored key ${r.key} stamped ${r.stamp[0] - this.localNow(i)} ms ahead of its clock, beyond max_clock_skew_ms ${this.config.maxClockSkewMs}`);
      }
    }
  }

  private startFsync(n: SimNode): void {
    n.disk.syncing = n.disk.unsynced;
    n.disk.unsynced = [];
    const { fsyncMsMin: lo, fsyncMsMax: hi } = this.options;
    this.schedule(lo + this.random() * (hi - lo), { kind: 'fsync', node: n.index, incarnation: n.incarnation });
  }

  private fsyncDone(i: NodeIndex, incarnation: number): void {
    const n = this.nodes[i]!;
    if (n.incarnation !== incarnation || n.node === null || n.disk.syncing === null) return;
    const batch = n.disk.syncing;
    n.disk.syncing = null;
    if (this.now < n.disk.fullUntilMs) {
      // The runtime cuts a refused write back off the log (log-file.ts), so the disk keeps nothing of it.
      const fromLsn = batch[0]!.lsn, toLsn = batch[batch.length - 1]!.lsn;
      n.disk.refusedBatches++;
      n.outbox.failed(fromLsn, toLsn);
      this.step(n, { kind: 'append-failed', fromLsn, toLsn, reason: 'ENOSPC: no space left on device (simulated)' });
      if (n.disk.syncing === null && n.disk.unsynced.length > 0) this.startFsync(n);
      return;
    }
    for (const r of batch) n.disk.durable.push({ lsn: r.lsn, incarnation, bytes: r.bytes });
    const upTo = batch[batch.length - 1]!.lsn;
    for (const out of n.outbox.synced(upTo)) this.transmit(this.addresses[i]!, out);
    this.step(n, { kind: 'synced', upToLsn: upTo, logBytes: n.disk.bytes() });
    if (n.disk.syncing === null && n.disk.unsynced.length > 0) this.startFsync(n);
  }

  // ---- network ---------------------------------------------------------------------------------

  private transmit(from: Address, out: Outgoing): void {
    this.send(from, out.to, out.msg);
  }

  /**
   * Puts a message on the wire, where it may be lost, duplicated, delayed or cut by a partition.
   * One that would not fit a datagram (the real codec refuses to send it) breaks the run.
   */
  send(from: Address, to: Address, msg: Message): void {
    const bytes = tagBytes + wire.encode(msg).length;
    if (bytes > datagramBytesMax) throw new StepError(`${from} sent a '${msg.t}' of ${bytes} bytes to ${to}, over the datagram limit of ${datagramBytesMax}`);
    this.watchWire?.(msg, bytes);
    if (this.cut.has(`${from}>${to}`)) return;
    if (this.random() < this.faults.lossRate) return;
    const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const { netDelayMsMin: lo, netDelayMsMax: hi } = this.options;
      this.schedule(lo + this.random() * (hi - lo), { kind: 'deliver', to, from, msg });
    }
  }

  private deliver(to: Address, from: Address, msg: Message): void {
    if (this.cut.has(`${from}>${to}`)) return;
    // What a socket delivers is untyped: every message is validated again on arrival, which also
    // gives each receiver its own copy.
    const checked = validate(msg, this.config.valueBytesMax, this.keySpace);
    const client = this.clients.get(to);
    if (client !== undefined) {
      if (checked.ok) client(checked.msg as ClientReply);
      return;
    }
    const i = this.addresses.indexOf(to);
    const n = this.nodes[i];
    if (n === undefined) return;
    this.step(n, checked.ok ? { kind: 'message', from, msg: checked.msg } : { kind: 'dropped', from, reason: 'invalid' });
  }

  /** Hands a node anything at all, as if a datagram decoded to it (fuzzing). */
  inject(i: NodeIndex, from: Address, anything: unknown): void {
    const n = this.nodes[i]!;
    const checked = validate(anything, this.config.valueBytesMax, this.keySpace);
    this.step(n, checked.ok ? { kind: 'message', from, msg: checked.msg } : { kind: 'dropped', from, reason: 'invalid' });
  }

  /** Cuts every link between the two groups (both ways). */
  partition(a: readonly Address[], b: readonly Address[]): void {
    for (const x of a) for (const y of b) { this.cut.add(`${x}>${y}`); this.cut.add(`${y}>${x}`); }
  }

  /** Loses everything sent from one address to another, but not the other way. */
  cutOneWay(from: Address, to: Address): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(i: NodeIndex): void {
    const me = this.addresses[i]!;
    this.partition([me], [...this.addresses.filter((a) => a !== me), ...this.clients.keys()]);
  }

  heal(): void {
    this.cut.clear();
    this.faults = { lossRate: 0, duplicateRate: 0 };
  }

  // ---- clients ---------------------------------------------------------------------------------

  /** Registers a client endpoint; replies to its address go to onReply. */
  addClient(address: Address, onReply: (reply: ClientReply) => void): void {
    this.clients.set(address, onReply);
  }

  clientSend(client: Address, coordinator: NodeIndex, req: ClientRequest): void {
    this.send(client, this.addresses[coordinator]!, req);
  }

  /** Durable log records of the node since its last snapshot (all incarnations). */
  durableRecords(i: NodeIndex): LogRecord[] {
    return scanRecords(concat(this.nodes[i]!.disk.durable.map((r) => r.bytes)), eitherKind).records;
  }

  /** Runs one client request to completion (retransmitting) and returns the reply, or null. */
  request(coordinator: NodeIndex, req: ClientRequest, limitMs = 3_000, client: Address = '127.0.0.4:4000'): ClientReply | null {
    let reply: ClientReply | null = null;
    this.addClient(client, (r) => { if (r.id === req.id && reply === null) reply = r; });
    const retry = () => { if (reply === null) { this.clientSend(client, coordinator, req); this.at(50, retry); } };
    retry();
    this.runUntil(() => reply !== null, limitMs);
    this.clients.delete(client);
    return reply;
  }

  lostAtCrash(i: NodeIndex): LogRecord[] {
    return this.nodes[i]!.lostAtCrash;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
