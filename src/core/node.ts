// A ringkv replica and coordinator as one synchronous state machine: inputs in, effects out.
// It never touches a socket, a file, a timer, the clock or Math.random (see ../shared/DESIGN.md).
import type { Effect, Input, LogEvent } from './effects.js';
import { FailureDetector } from './failure-detector.js';
import { HintStore, type Hint } from './hints.js';
import { compareStamps, formatStamp, Hlc } from './hlc.js';
import {
  clientRequestsInFlightMax, dedupEntriesMax, dropLogIntervalMs, hintLogIntervalMs, hintBatchBytesMax,
  hintBatchesInFlightPerTargetMax, hintEntryOverheadBytes, hintsPerTargetMax, recordsPerSnapshotMin,
} from './limits.js';
import type { LogRecord } from './log-record.js';
import { BoundedMap } from './lru.js';
import { PeerDedup } from './dedup.js';
import {
  isClientRequest, utf8Bytes, type ClientReply, type ClientRequest, type GetRequest, type HintBatch,
  type Message, type PeerReply, type PeerRequest, type PutRequest, type StatusReport,
} from './messages.js';
import { Ring } from './partitioner.js';
import type { Random } from './prng.js';
import { requiredAcks } from './quorum.js';
import { RequestTracker } from './reliable.js';
import { Store } from './store.js';
import {
  addressOf, type Address, type ClientError, type ClusterConfig, type Key, type Level, type NodeIndex, type RepairMode,
  type Stamp, type Versioned,
} from './types.js';

export interface NodeOptions {
  config: ClusterConfig;
  self: NodeIndex;
  /** This incarnation's generation: its start time in ms, larger on every restart. */
  generation: number;
  /** Seeded in simulation; any uniform [0, 1) source in production. */
  random: Random;
  /** Overrides the cluster's repair mode for this node (kvd --repair). */
  repairMode?: RepairMode;
  /** Wall clock at construction, for the failure detector's first view. */
  nowMs: number;
}

/** Per client request: a fan-out in progress at this coordinator. */
interface WriteOp {
  kind: 'write';
  client: Address; clientId: number; key: Key; level: Level; value: string; stamp: Stamp;
  required: number; replicas: readonly NodeIndex[]; sentTo: Set<NodeIndex>; acked: Set<NodeIndex>; answered: boolean; deadlineMs: number;
}
interface ReadOp {
  kind: 'read';
  client: Address; clientId: number; key: Key; level: Level;
  required: number; asked: NodeIndex[]; replies: Map<NodeIndex, Versioned | null>;
  answered: boolean; deadlineMs: number;
  /** Blocking read repair: replicas still to ack the newest version before the answer goes out. */
  blockingRepair: Set<NodeIndex> | null; answer: Versioned | null; repaired: Set<NodeIndex>;
  /** Every reply is in, or the deadline passed: background repair has been sent. */
  finished: boolean;
}
type ClientOp = WriteOp | ReadOp;

/** A durable-on-sync action waiting for its record's lsn. */
interface PendingRecord { lsn: number; record: LogRecord; then: (() => void) | null }


export class Node {
  readonly config: ClusterConfig;
  readonly self: NodeIndex;
  readonly name: string;
  readonly generation: number;
  readonly repairMode: RepairMode;
  readonly ring: Ring;
  readonly store = new Store();
  readonly hints = new HintStore();
  private readonly hlc: Hlc;
  private readonly detector: FailureDetector;
  private readonly requests: RequestTracker;
  private readonly addresses: Address[];
  private readonly indexByAddress = new Map<Address, NodeIndex>();

  private started = false;
  private effects: Effect[] = [];
  private nowMs = 0;
  private readonly loopback: { from: NodeIndex; msg: Message }[] = [];

  // log
  private nextLsn = 1;
  private syncedLsn = 0;
  private readonly pending: PendingRecord[] = [];
  private recordsSinceSnapshot = 0;
  private logBytes = 0;

  // coordinator
  private readonly clientOps = new Map<string, ClientOp>();
  private readonly clientReplies = new BoundedMap<string, ClientReply>(dedupEntriesMax);
  // replica: the (from, gen, id) of writes and hint batches seen, pending until durable
  private readonly peerRequestsSeen: PeerDedup;

  // gossip and sweeps
  private heartbeatCounter = 0;
  private nextHeartbeatMs = 0;
  private nextHintSweepMs = 0;
  private readonly hintBatchesInFlight = new Map<NodeIndex, number>();
  private readonly hintsExpired = new Map<NodeIndex, number>();
  /** Hints stored per target since its last log line, so a long outage logs a summary a second, not a line a write. */
  private readonly hintsUnlogged = new Map<NodeIndex, { count: number; keys: Set<Key>; lastLogMs: number }>();

  // counters
  readonly dropped: Record<string, number> = {};
  private droppedSinceLog = 0;
  private lastDropLogMs = -Infinity;
  private replayed = { records: 0, torn: 0 };

  constructor(opts: NodeOptions) {
    this.config = opts.config;
    this.self = opts.self;
    this.generation = opts.generation;
    this.repairMode = opts.repairMode ?? opts.config.repairMode;
    const self = opts.config.nodes[opts.self];
    if (self === undefined) throw new RangeError(`node: no node ${opts.self} in a cluster of ${opts.config.nodes.length}`);
    this.name = self.name;
    this.ring = new Ring(opts.config.nodes.length, opts.config.replicationFactor);
    this.hlc = new Hlc(opts.self);
    this.detector = new FailureDetector(opts.config.nodes.length, opts.self, opts.config.downAfterMs, opts.nowMs);
    this.requests = new RequestTracker(opts.random);
    this.peerRequestsSeen = new PeerDedup(Math.ceil(dedupEntriesMax / opts.config.nodes.length));
    this.addresses = opts.config.nodes.map(addressOf);
    this.addresses.forEach((a, i) => this.indexByAddress.set(a, i));
    this.nowMs = Math.floor(opts.nowMs);
  }

  private get hinting(): boolean { return this.repairMode !== 'read-repair'; }
  private get readRepairing(): boolean { return this.repairMode !== 'hinted-handoff'; }

  // ---- replay ------------------------------------------------------------------------------------

  /** Rebuilds data and hints from one durable log record, before `start`. */
  replay(record: LogRecord): void {
    if (this.started) throw new Error('node: replay after start');
    this.replayed.records++;
    this.applyRecord(record);
  }

  /** The replay stopped at a torn or corrupt tail of this many bytes (for the start line). */
  replayTruncated(bytes: number): void {
    this.replayed.torn = bytes;
  }

  private applyRecord(record: LogRecord): void {
    switch (record.t) {
      case 'w':
        this.hlc.observe(record.stamp);
        this.store.apply(record.key, record.value, record.stamp);
        break;
      case 'h':
        this.hlc.observe(record.stamp);
        this.hints.add(record.target, record.key, record.value, record.stamp, record.atMs);
        break;
      case 'hd':
        this.hints.delivered(record.target, record.key, record.stamp);
        break;
      case 'snap':
        this.hints.clear();
        for (const [key, value, stamp] of record.writes) { this.hlc.observe(stamp); this.store.apply(key, value, stamp); }
        for (const [target, key, value, stamp, atMs] of record.hints) this.hints.add(target, key, value, stamp, atMs);
        break;
    }
  }

  // ---- step --------------------------------------------------------------------------------------

  step(input: Input, nowMs: number): Effect[] {
    this.effects = [];
    this.nowMs = Math.max(this.nowMs, Math.floor(nowMs)); // whole ms: stamps and log records hold integers
    switch (input.kind) {
      case 'start': this.start(); break;
      case 'message': if (this.started) this.receive(input.from, input.msg); break;
      case 'tick': if (this.started) this.tick(); break;
      case 'synced': this.synced(input.upToLsn, input.logBytes); break;
      case 'dropped': this.countDrop(input.reason); break;
    }
    this.drainLoopback();
    this.maybeSnapshot();
    const out = this.effects;
    this.effects = [];
    return out;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.log('info', 'started',
      `${this.name} started (generation ${this.generation}): replayed ${this.replayed.records} log records` +
      `${this.replayed.torn > 0 ? `, dropped a torn tail of ${this.replayed.torn} bytes` : ''}; ` +
      `${this.store.size} keys, ${this.hints.count} hints restored`);
    this.heartbeatAll();
    this.nextHintSweepMs = this.nowMs + this.config.hintSweepIntervalMs;
  }

  private receive(from: Address, msg: Message): void {
    if (isClientRequest(msg)) return this.onClientRequest(from, msg);
    if (!('from' in msg)) return this.countDrop('unexpected');
    const peer = msg.from;
    if (peer === this.self || this.addresses[peer] !== from) return this.countDrop('spoofed');
    this.onPeerMessage(peer, msg);
  }

  private onPeerMessage(peer: NodeIndex, msg: Message): void {
    switch (msg.t) {
      case 'hb': return this.onHeartbeat(peer, msg.gen, msg.hlc);
      case 'rw': case 'rr': case 'hints': return this.onPeerRequest(peer, msg);
      case 'rw.ok': case 'rr.ok': case 'hints.ok': return this.onPeerReply(peer, msg);
      default: return this.countDrop('unexpected');
    }
  }

  private drainLoopback(): void {
    for (let m = this.loopback.shift(); m !== undefined; m = this.loopback.shift()) this.onPeerMessage(m.from, m.msg);
  }

  private sendPeer(to: NodeIndex, msg: Message): void {
    if (to === this.self) this.loopback.push({ from: this.self, msg });
    else this.effects.push({ kind: 'send', to: this.addresses[to]!, msg });
  }

  // ---- log ---------------------------------------------------------------------------------------

  /** Appends a record; `then` runs once it is durable, right after it is applied to memory. */
  private append(record: LogRecord, then: (() => void) | null): void {
    const lsn = this.nextLsn++;
    this.pending.push({ lsn, record, then });
    this.recordsSinceSnapshot++;
    this.effects.push({ kind: 'append', lsn, record });
  }

  private synced(upToLsn: number, logBytes: number): void {
    this.logBytes = logBytes;
    this.syncedLsn = Math.max(this.syncedLsn, upToLsn);
    while (this.pending.length > 0 && this.pending[0]!.lsn <= this.syncedLsn) {
      const p = this.pending.shift()!;
      this.applyRecord(p.record);
      p.then?.();
    }
  }

  /** Memory holds every record up to syncedLsn: that is what a snapshot covers (see effects.ts). */
  private maybeSnapshot(): void {
    if (this.recordsSinceSnapshot < recordsPerSnapshotMin) return;
    const writes: [Key, string, Stamp][] = [];
    for (const [key, v] of this.store.entries()) writes.push([key, v.value, v.stamp]);
    this.effects.push({ kind: 'snapshot', coversLsn: this.syncedLsn, record: { t: 'snap', writes, hints: this.hints.dump() } });
    this.recordsSinceSnapshot = this.pending.length;
  }

  // ---- replica side ------------------------------------------------------------------------------

  private onPeerRequest(peer: NodeIndex, msg: PeerRequest): void {
    if (msg.t === 'rr') {
      // A read changes nothing, so a retransmitted one is simply read again: its reply (a value of
      // up to 60 KB) is never cached.
      if (!this.ring.holds(this.self, msg.key)) return this.countDrop('misrouted');
      const v = this.store.read(msg.key);
      return this.sendPeer(peer, { t: 'rr.ok', from: this.self, id: msg.id, value: v?.value ?? null, stamp: v?.stamp ?? null });
    }
    const ack: PeerReply = msg.t === 'rw' ? { t: 'rw.ok', from: this.self, id: msg.id } : { t: 'hints.ok', from: this.self, id: msg.id };
    const seen = this.peerRequestsSeen.seen(peer, msg.gen, msg.id);
    if (seen === 'pending') return; // its records are on the way to disk; the ack follows
    if (seen === 'done') return this.sendPeer(peer, ack);

    const writes = msg.t === 'rw' ? [[msg.key, msg.value, msg.stamp] as const] : msg.writes;
    if (writes.some(([key]) => !this.ring.holds(this.self, key))) return this.countDrop('misrouted');
    this.peerRequestsSeen.start(peer, msg.gen, msg.id);
    this.writeLocal(writes, () => {
      this.peerRequestsSeen.finish(peer, msg.gen, msg.id);
      this.sendPeer(peer, ack);
    });
  }

  /**
   * Makes these versions durable here, then calls `done`. A version no newer than what is stored
   * (durably: memory holds only synced records) needs no record.
   */
  private writeLocal(writes: readonly (readonly [Key, string, Stamp])[], done: () => void): void {
    const fresh = writes.filter(([key, , stamp]) => {
      this.hlc.observe(stamp);
      const held = this.store.read(key);
      return held === undefined || compareStamps(stamp, held.stamp) > 0;
    });
    if (fresh.length === 0) return done();
    fresh.forEach(([key, value, stamp], i) => this.append({ t: 'w', key, value, stamp }, i === fresh.length - 1 ? done : null));
  }

  // ---- gossip and failure detection --------------------------------------------------------------

  private heartbeatAll(): void {
    this.heartbeatCounter++;
    const hb: Message = { t: 'hb', from: this.self, gen: this.generation, counter: this.heartbeatCounter, hlc: this.hlc.latest() };
    for (let peer = 0; peer < this.addresses.length; peer++) if (peer !== this.self) this.sendPeer(peer, hb);
    this.nextHeartbeatMs = this.nowMs + this.config.gossipIntervalMs;
  }

  private onHeartbeat(peer: NodeIndex, generation: number, hlc: Stamp): void {
    this.hlc.observe(hlc);
    const outcome = this.detector.heartbeat(peer, generation, this.nowMs);
    const name = this.nameOf(peer);
    if (outcome === 'first-contact') this.log('info', 'peer-up', `peer ${name} UP (first heartbeat, generation ${generation})`);
    if (outcome === 'up' || outcome === 'restarted') {
      this.log('info', 'peer-up', `peer ${name} UP${outcome === 'restarted' ? ` (restarted, generation ${generation})` : ''}` +
        `${this.hints.countFor(peer) > 0 ? `; delivering ${this.hints.countFor(peer)} hints` : ''}`);
    }
    if (outcome !== 'stale' && outcome !== 'alive') this.deliverHints(peer);
  }

  private tick(): void {
    for (const peer of this.detector.expire(this.nowMs)) {
      this.log('warn', 'peer-down', `peer ${this.nameOf(peer)} DOWN (silent for over ${this.config.downAfterMs} ms)`);
    }
    if (this.nowMs >= this.nextHeartbeatMs) this.heartbeatAll();
    const { retransmit, expired } = this.requests.due(this.nowMs);
    for (const out of retransmit) this.sendPeer(out.to, out.msg);
    for (const out of expired) out.onGiveUp();
    for (const op of [...this.clientOps.values()]) if (this.nowMs >= op.deadlineMs) this.expireOp(op);
    if (this.nowMs >= this.nextHintSweepMs) this.sweepHints();
    if (this.hintsUnlogged.size > 0) this.logHintsStored();
    this.logDrops();
  }

  // ---- hinted handoff ----------------------------------------------------------------------------

  private storeHint(target: NodeIndex, key: Key, value: string, stamp: Stamp): void {
    if (!this.hinting || !this.hints.isNewer(target, key, stamp)) return;
    this.append({ t: 'h', target, key, value, stamp, atMs: this.nowMs }, null);
    const unlogged = this.hintsUnlogged.get(target) ?? { count: 0, keys: new Set<Key>(), lastLogMs: -Infinity };
    this.hintsUnlogged.set(target, unlogged);
    if (this.nowMs - unlogged.lastLogMs >= hintLogIntervalMs) {
      this.log('info', 'hint-stored', `hint stored for ${this.nameOf(target)}: key ${key} (${formatStamp(stamp)})`);
      unlogged.lastLogMs = this.nowMs;
    } else {
      unlogged.count++;
      unlogged.keys.add(key);
    }
  }

  private logHintsStored(): void {
    for (const [target, unlogged] of this.hintsUnlogged) {
      if (unlogged.count === 0 || this.nowMs - unlogged.lastLogMs < hintLogIntervalMs) continue;
      this.log('info', 'hint-stored', `hints stored for ${this.nameOf(target)}: ${unlogged.count} more writes ` +
        `(keys ${summarizeKeys([...unlogged.keys])}); ${this.hints.countFor(target)} hints held`);
      this.hintsUnlogged.set(target, { count: 0, keys: new Set(), lastLogMs: this.nowMs });
    }
  }

  private sweepHints(): void {
    this.nextHintSweepMs = this.nowMs + this.config.hintSweepIntervalMs;
    for (const [target, n] of this.hints.expire(this.nowMs, this.config.maxHintWindowMs)) {
      this.hintsExpired.set(target, (this.hintsExpired.get(target) ?? 0) + n);
      this.log('warn', 'hints-expired', `dropped ${n} hints for ${this.nameOf(target)} older than ${this.config.maxHintWindowMs} ms (run a repair)`);
    }
    for (const target of this.hints.targets()) this.deliverHints(target);
  }

  /** Sends the target's waiting hints in batches that fit a datagram, a few batches at a time. */
  private deliverHints(target: NodeIndex): void {
    if (!this.started || !this.detector.isUp(target)) return;
    const waiting = [...this.hints.hintsFor(target)].filter((h) => !h.inFlight);
    let next = 0;
    while (next < waiting.length && (this.hintBatchesInFlight.get(target) ?? 0) < hintBatchesInFlightPerTargetMax && this.requests.hasRoom()) {
      const batch: Hint[] = [];
      let bytes = 0;
      for (; next < waiting.length; next++) {
        const hint = waiting[next]!;
        const size = utf8Bytes(hint.value) + hintEntryOverheadBytes;
        if (batch.length > 0 && bytes + size > hintBatchBytesMax) break;
        batch.push(hint);
        bytes += size;
      }
      this.sendHintBatch(target, batch);
    }
  }

  /**
   * One batch, retried until acked or its deadline. Its hints stay marked in flight until their
   * "delivered" records are durable (and they are forgotten), so they are not sent twice meanwhile.
   */
  private sendHintBatch(target: NodeIndex, batch: Hint[]): void {
    for (const h of batch) h.inFlight = true;
    this.hintBatchesInFlight.set(target, (this.hintBatchesInFlight.get(target) ?? 0) + 1);
    const batchDone = () => this.hintBatchesInFlight.set(target, Math.max(0, (this.hintBatchesInFlight.get(target) ?? 1) - 1));
    const writes = batch.map((h): [Key, string, Stamp] => [h.key, h.value, h.stamp]);
    const msg = this.requests.register(target, (id): HintBatch => ({ t: 'hints', from: this.self, gen: this.generation, id, writes }),
      this.nowMs, this.nowMs + 2 * this.config.writeTimeoutMs, true,
      () => {
        batchDone();
        writes.forEach(([key, , stamp], i) => this.append({ t: 'hd', target, key, stamp }, i < writes.length - 1 ? null : () => {
          for (const h of batch) h.inFlight = false; // a newer hint for one of these keys may remain
          this.log('info', 'hints-delivered', `hints delivered to ${this.nameOf(target)}: ${writes.length}` +
            ` (keys ${summarizeKeys(writes.map((w) => w[0]))}); ${this.hints.countFor(target)} left`);
          this.deliverHints(target);
        }));
      },
      () => {
        batchDone();
        for (const h of batch) h.inFlight = false; // the sweep or the next UP retries them
      });
    this.sendPeer(target, msg);
  }

  // ---- coordinator -------------------------------------------------------------------------------

  private onClientRequest(client: Address, req: ClientRequest): void {
    if (req.t === 'local') {
      const v = this.store.read(req.key);
      return this.reply(client, { t: 'local.ok', id: req.id, key: req.key, value: v?.value ?? null, stamp: v?.stamp ?? null, node: this.name });
    }
    if (req.t === 'status') return this.reply(client, { t: 'status.ok', id: req.id, status: this.status() });

    const opKey = `${client}|${req.id}`;
    if (this.clientOps.has(opKey)) return; // a retransmission of a request still in progress
    const done = this.clientReplies.get(opKey);
    if (done !== undefined) return this.reply(client, done);

    const fail = (error: ClientError, message: string) => this.answer(client, req.id, { t: 'fail', id: req.id, error, message });
    const need = requiredAcks(req.level, this.config.replicationFactor);
    if (!need.ok) return fail('InvalidRequest', `InvalidRequest: ${need.reason}`);
    const valueBytes = req.t === 'put' ? utf8Bytes(req.value) : 0;
    if (valueBytes > this.config.valueBytesMax) {
      return fail('InvalidRequest', `InvalidRequest: value is ${valueBytes} bytes, over the limit of ${this.config.valueBytesMax}`);
    }
    if (this.clientOps.size >= clientRequestsInFlightMax || !this.requests.hasRoom(this.config.replicationFactor)) {
      return fail('Overloaded', `Overloaded: ${this.name} holds ${this.clientOps.size} client requests in flight (limit ${clientRequestsInFlightMax})`);
    }
    const replicas = this.ring.replicasFor(req.key);
    const down = replicas.filter((r) => !this.detector.isUp(r));
    const alive = replicas.length - down.length;
    if (alive < need.acks) {
      return fail('Unavailable', `Unavailable: ${req.level} needs ${need.acks} of ${replicas.length} replicas of key ${req.key}, ` +
        `${alive} alive (${down.map((r) => this.nameOf(r)).join(', ')} down)`);
    }
    if (req.t === 'put') this.startWrite(client, opKey, req, need.acks, replicas);
    else this.startRead(client, opKey, req, need.acks, replicas);
  }

  private startWrite(client: Address, opKey: string, req: PutRequest, required: number, replicas: readonly NodeIndex[]): void {
    const stamp = this.hlc.now(this.nowMs);
    const op: WriteOp = {
      kind: 'write', client, clientId: req.id, key: req.key, level: req.level, value: req.value, stamp,
      required, replicas, sentTo: new Set(), acked: new Set(), answered: false, deadlineMs: this.nowMs + this.config.writeTimeoutMs,
    };
    this.clientOps.set(opKey, op);
    // Peers first: their sends leave before this node's own record is durable (see outbox.ts).
    const ordered = [...replicas.filter((r) => r !== this.self), ...replicas.filter((r) => r === this.self)];
    for (const r of ordered) {
      if (!this.detector.isUp(r)) { this.storeHint(r, req.key, req.value, stamp); continue; }
      const msg = this.requests.register(r, (id) => ({ t: 'rw', from: this.self, gen: this.generation, id, key: req.key, value: req.value, stamp }),
        this.nowMs, op.deadlineMs, r !== this.self, () => this.onWriteAck(opKey, op, r));
      op.sentTo.add(r);
      this.sendPeer(r, msg);
    }
  }

  private onWriteAck(opKey: string, op: WriteOp, replica: NodeIndex): void {
    op.acked.add(replica);
    if (!op.answered && op.acked.size >= op.required) {
      op.answered = true;
      this.answer(op.client, op.clientId, { t: 'put.ok', id: op.clientId, key: op.key, stamp: op.stamp, coordinator: this.name }, opKey);
    }
    if (op.acked.size === op.sentTo.size) this.clientOps.delete(opKey); // every replica written; none needs a hint
  }

  private startRead(client: Address, opKey: string, req: GetRequest, required: number, replicas: readonly NodeIndex[]): void {
    const asked = replicas.filter((r) => this.detector.isUp(r));
    const op: ReadOp = {
      kind: 'read', client, clientId: req.id, key: req.key, level: req.level, required, asked, replies: new Map(),
      answered: false, deadlineMs: this.nowMs + this.config.readTimeoutMs, blockingRepair: null, answer: null, repaired: new Set(), finished: false,
    };
    this.clientOps.set(opKey, op);
    const ordered = [...asked.filter((r) => r !== this.self), ...asked.filter((r) => r === this.self)];
    for (const r of ordered) {
      const msg = this.requests.register(r, (id) => ({ t: 'rr', from: this.self, gen: this.generation, id, key: req.key }),
        this.nowMs, op.deadlineMs, r !== this.self, (reply) => {
          if (reply.t !== 'rr.ok') return;
          this.onReadReply(opKey, op, r, reply.value === null || reply.stamp === null ? null : { value: reply.value, stamp: reply.stamp });
        });
      this.sendPeer(r, msg);
    }
  }

  private onReadReply(opKey: string, op: ReadOp, replica: NodeIndex, version: Versioned | null): void {
    op.replies.set(replica, version);
    if (!op.answered && op.blockingRepair === null && op.replies.size >= op.required) {
      const newest = newestOf(op.replies.values());
      op.answer = newest;
      const stale = newest === null ? [] : [...op.replies].filter(([, v]) => isOlder(v, newest)).map(([r]) => r);
      if (this.readRepairing && this.config.readRepairBlocking && op.required > 1 && stale.length > 0 && newest !== null) {
        // Cassandra 4's blocking read repair: the replicas read get the newest version before the
        // answer leaves, so a later read at this level never sees an older one.
        op.blockingRepair = new Set(stale);
        this.log('info', 'read-repair', `read repair of key ${op.key} (blocking, before answering): ` +
          `${stale.map((r) => this.nameOf(r)).join(', ')} given ${formatStamp(newest.stamp)}`);
        for (const r of stale) this.repair(op, r, newest, () => {
          op.blockingRepair?.delete(r);
          if (op.blockingRepair?.size !== 0 || op.answered || !this.clientOps.has(opKey)) return;
          this.answerRead(opKey, op);
          if (op.finished) this.clientOps.delete(opKey);
        });
      } else {
        this.answerRead(opKey, op);
      }
    }
    if (op.replies.size === op.asked.length) this.finishRead(opKey, op);
  }

  private answerRead(opKey: string, op: ReadOp): void {
    op.answered = true;
    const v = op.answer;
    this.answer(op.client, op.clientId, { t: 'get.ok', id: op.clientId, key: op.key, value: v?.value ?? null, stamp: v?.stamp ?? null, coordinator: this.name }, opKey);
  }

  /** Every reply is in (or the deadline passed): background read repair of the rest. */
  private finishRead(opKey: string, op: ReadOp): void {
    op.finished = true;
    const newest = newestOf(op.replies.values());
    if (this.readRepairing && newest !== null) {
      const stale = op.asked.filter((r) => !op.repaired.has(r) && (!op.replies.has(r) || isOlder(op.replies.get(r)!, newest)));
      for (const r of stale) this.repair(op, r, newest, null);
      if (stale.length > 0) {
        this.log('info', 'read-repair', `read repair of key ${op.key}: ${stale.map((r) => this.nameOf(r)).join(', ')} ` +
          `given ${formatStamp(newest.stamp)}`);
      }
    }
    if (op.answered) this.clientOps.delete(opKey);
  }

  private repair(op: ReadOp, replica: NodeIndex, newest: Versioned, then: (() => void) | null): void {
    op.repaired.add(replica);
    if (!this.requests.hasRoom()) return;
    const msg = this.requests.register(replica, (id) => ({ t: 'rw', from: this.self, gen: this.generation, id, key: op.key, value: newest.value, stamp: newest.stamp }),
      this.nowMs, this.nowMs + this.config.writeTimeoutMs, replica !== this.self, () => then?.());
    this.sendPeer(replica, msg);
  }

  private expireOp(op: ClientOp): void {
    const opKey = `${op.client}|${op.clientId}`;
    this.clientOps.delete(opKey);
    if (op.kind === 'write') {
      for (const r of op.replicas) if (!op.acked.has(r) && r !== this.self) this.storeHint(r, op.key, op.value, op.stamp);
      if (!op.answered) {
        this.answer(op.client, op.clientId, {
          t: 'fail', id: op.clientId, error: 'Timeout', acks: op.acked.size, required: op.required,
          message: `Timeout: ${op.acked.size} of ${op.required} acks for put of key ${op.key} at ${op.level} within ${this.config.writeTimeoutMs} ms (the write may still land)`,
        }, opKey);
      }
    } else {
      if (!op.answered) {
        this.answer(op.client, op.clientId, {
          t: 'fail', id: op.clientId, error: 'Timeout', acks: Math.min(op.replies.size, op.required), required: op.required,
          message: `Timeout: ${op.replies.size} of ${op.required} replies for get of key ${op.key} at ${op.level} within ${this.config.readTimeoutMs} ms` +
            `${op.blockingRepair !== null ? ` (blocking read repair of ${op.blockingRepair.size} replicas unfinished)` : ''}`,
        }, opKey);
      }
      op.answered = true;
      if (!op.finished) this.finishRead(opKey, op);
    }
  }

  /**
   * Answers a get or put. A put's answer is remembered, so a retransmitted put is answered again and
   * never stamped and written twice; a get is idempotent and its answer (with its value) is not kept.
   */
  private answer(client: Address, id: number, reply: ClientReply, opKey = `${client}|${id}`): void {
    if (reply.t !== 'get.ok') this.clientReplies.set(opKey, reply);
    this.reply(client, reply);
  }

  private reply(client: Address, msg: ClientReply): void {
    this.effects.push({ kind: 'reply', to: client, msg });
  }

  private onPeerReply(peer: NodeIndex, reply: PeerReply): void {
    this.requests.settle(reply.id, peer, this.nowMs)?.onReply(reply);
  }

  // ---- status, drops, invariants -----------------------------------------------------------------

  status(): StatusReport {
    return {
      node: this.name,
      replicationFactor: this.config.replicationFactor,
      repairMode: this.repairMode,
      ring: this.ring.ranges.map((r) => ({ first: r.first, last: r.last, replicas: this.ring.replicasFor(r.first).map((n) => this.nameOf(n)) })),
      peers: this.config.nodes.map((n, i) => ({ name: n.name, up: this.detector.isUp(i), hintsPending: this.hints.countFor(i), hintsExpired: this.hintsExpired.get(i) ?? 0 })),
      keysStored: this.store.size,
      logBytes: this.logBytes,
      logRecords: this.recordsSinceSnapshot,
      droppedDatagrams: { ...this.dropped },
      clientRequestsInFlight: this.clientOps.size,
    };
  }

  private countDrop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    this.droppedSinceLog++;
    this.logDrops();
  }

  /** At most one line per interval; what arrives meanwhile is reported by the next tick past it. */
  private logDrops(): void {
    if (this.droppedSinceLog === 0 || this.nowMs - this.lastDropLogMs < dropLogIntervalMs) return;
    const total = Object.entries(this.dropped).map(([r, n]) => `${r} ${n}`).join(', ');
    this.log('warn', 'dropped', `dropped ${this.droppedSinceLog} datagrams since the last report (totals: ${total})`);
    this.droppedSinceLog = 0;
    this.lastDropLogMs = this.nowMs;
  }

  private log(level: LogEvent['level'], name: string, text: string): void {
    this.effects.push({ kind: 'log', event: { level, name, text } });
  }

  private nameOf(node: NodeIndex): string {
    return this.config.nodes[node]?.name ?? `node-${node}`;
  }

  /** The node's own consistency, checked by the simulator after every step. Returns violations. */
  invariants(): string[] {
    const bad: string[] = [];
    const latest = this.hlc.latest();
    for (const [key, v] of this.store.entries()) {
      if (!this.ring.holds(this.self, key)) bad.push(`stores key ${key}, which it does not replicate`);
      if (v.stamp[0] > latest[0] || (v.stamp[0] === latest[0] && v.stamp[1] > latest[1])) bad.push(`hlc ${formatStamp(latest)} behind stored ${formatStamp(v.stamp)}`);
    }
    for (const target of this.hints.targets()) {
      if (target === this.self) bad.push('holds hints for itself');
      if (this.hints.countFor(target) > hintsPerTargetMax) bad.push(`over the hint limit for ${target}`);
      for (const h of this.hints.hintsFor(target)) if (!this.ring.holds(target, h.key)) bad.push(`hint for ${target} of key ${h.key} it does not hold`);
    }
    if (this.clientOps.size > clientRequestsInFlightMax) bad.push('client requests over the limit');
    for (let i = 1; i < this.pending.length; i++) if (this.pending[i]!.lsn !== this.pending[i - 1]!.lsn + 1) bad.push('pending records out of order');
    if (this.pending.length > 0 && this.pending[0]!.lsn <= this.syncedLsn) bad.push('a synced record is still pending');
    if (this.nextLsn - 1 < this.syncedLsn) bad.push('synced past the last append');
    return bad;
  }
}


function newestOf(versions: Iterable<Versioned | null>): Versioned | null {
  let newest: Versioned | null = null;
  for (const v of versions) if (v !== null && (newest === null || compareStamps(v.stamp, newest.stamp) > 0)) newest = v;
  return newest;
}

function isOlder(v: Versioned | null, than: Versioned): boolean {
  return v === null || compareStamps(v.stamp, than.stamp) < 0;
}

function summarizeKeys(keys: Key[]): string {
  return keys.length <= 8 ? keys.join(', ') : `${keys.slice(0, 8).join(', ')} … ${keys.length - 8} more`;
}

