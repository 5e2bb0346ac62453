// A ringkv replica and coordinator as one synchronous state machine: inputs in, effects out.
// It never touches a socket, a file, a timer, the clock or Math.random (see ARCHITECTURE.md).
import { AntiEntropy } from './anti-entropy.js';
import { refusal, refusalText, type Principal, type Refusal } from './authorization.js';
import { Coordinator } from './coordinator.js';
import { PeerDedup } from './dedup.js';
import type { Effect, Input, LogEvent } from './effects.js';
import { FailureDetector } from './failure-detector.js';
import { HintedHandoff } from './handoff.js';
import type { HintStore } from './hints.js';
import { configDigest } from './config-digest.js';
import { aheadOf, compareStamps, formatStamp, Hlc } from './hlc.js';
import {
  clientRequestsInFlightMax, dedupEntriesMax, dropLogIntervalMs, logFullRetryIntervalMs, quarantinedKeysListedMax, slotCount,
  recordsPerSnapshotMin, repairRequestsInFlightMax,
} from './limits.js';
import type { LogRecord } from './log-record.js';
import { BoundedMap } from './lru.js';
import {
  isClientRequest, type ClientReply, type ClientRequest, type Heartbeat, type Message, type PeerReply, type PeerRequest, type RepairReply, type RepairRequest, type StatusReport,
} from './messages.js';
import { PeerChecks } from './peer-checks.js';
import { keyKindMismatch, keySpaceOf } from './keyspace.js';
import { Placement } from './placement.js';
import { firstRing } from './ring/state.js';
import { followProblem, RingHolder } from './ring-holder.js';
import { RingPeer } from './ring-peer.js';
import { summarizeKeys, type NodePorts } from './ports.js';
import type { Random } from './prng.js';
import { RequestTracker } from './reliable.js';
import { RestartWait } from './restart-wait.js';
import { Store } from './store.js';
import { slowSummaries, type StateReport } from './state.js';
import { clip, ReplicaTrace, toUs, Tracing } from './trace.js';
import { count } from './text.js';
import { addressOf, type Address, type ClusterConfig, type Key, type NodeIndex, type RepairMode, type Stamp, type StoredValue } from './types.js';

export interface NodeOptions {
  config: ClusterConfig;
  self: NodeIndex;
  /** This incarnation's generation: its start time in ms, larger on every restart. */
  generation: number;
  /**
   * An earlier process served from this data dir: requests it may have run and not answered can
   * still arrive, so writes sent before this one started are not run again (see coordinator.ts).
   */
  restarted?: boolean;
  /** The previous process stopped cleanly and handled nothing after this time (ms, this host's clock): the wait-out counts from there. */
  previousStoppedAtMs?: number;
  /** Seeded in simulation; any uniform [0, 1) source in production. */
  random: Random;
  /** Overrides the cluster's repair mode for this node (kvd --repair). */
  repairMode?: RepairMode;
  /** Wall clock at construction, for the failure detector's first view. */
  nowMs: number;
}

/** The log holds keys of another key space than nodes.toml's (see Node.replay). */
export class KeySpaceMismatchError extends Error {
  override name = 'KeySpaceMismatchError';
}

/** The ring in the log has a member nodes.toml gives no address for (see Node.followHeldRing). */
export class RingPeersError extends Error {
  override name = 'RingPeersError';
}

/** A durable-on-sync action waiting for its record's lsn. */
interface PendingRecord { lsn: number; record: LogRecord; then: (() => void) | null }


export class Node {
  readonly config: ClusterConfig;
  readonly self: NodeIndex;
  readonly name: string;
  readonly generation: number;
  readonly repairMode: RepairMode;
  /** Where keys live at the ring's current epoch (placement.ts). */
  private placement: Placement;
  readonly store: Store;
  private readonly hlc: Hlc;
  private readonly detector: FailureDetector;
  private readonly requests: RequestTracker;
  private readonly addresses: Address[];

  private started = false;
  private effects: Effect[] = [];
  private nowMs = 0;
  private clockMs = 0;
  private readonly loopback: { from: NodeIndex; msg: Message }[] = [];

  // log
  private nextLsn = 1;
  private syncedLsn = 0;
  private readonly pending: PendingRecord[] = [];
  /** The newest version of each key with a data record on the way to disk, so a second copy of it is not written again. */
  private readonly pendingByKey = new Map<Key, { stamp: Stamp; lsn: number }>();
  /** Acks waiting for a record that another request appended (same or newer version of their key). */
  private waiting: { lsn: number; then: () => void }[] = [];
  private recordsSinceSnapshot = 0;
  private logBytes = 0;
  /** The disk refused appends (full) and none has succeeded since: no writes are acked meanwhile. */
  private logFull: { sinceMs: number; lastFailedLsn: number } | null = null;
  private logAppendsFailed = 0;
  /**
   * Writes, hints and hint deliveries the disk refused, the newest per key (and per target and key), appended again
   * every logFullRetryIntervalMs until they land: their acks are gone, but this replica still gets
   * the version, so a full disk costs acks, never a replica's copy (a coordinator holds no hint for itself).
   */
  private readonly refusedRecords = new Map<string, Extract<LogRecord, { t: 'w' | 'h' | 'hd' }>>();
  /** A full disk refused a ring state: the current one is appended again with the rest (never an older one after a newer). */
  private ringRefused = false;
  private nextRefusedRetryMs = 0;

  private readonly handoff: HintedHandoff;
  private readonly coordinator: Coordinator;
  /** Remade (before start) when the replay brings a ring other than nodes.toml's: its slot lists come from the ring. */
  private antiEntropy: AntiEntropy;
  /** The ring this replica holds and its acceptor state (ring-holder.ts). */
  private readonly holder: RingHolder;
  /** `ring` messages and the epoch in heartbeats (ring-peer.ts). */
  private readonly ringPeer: RingPeer;
  /** A restarted replica stamps no write its previous process may have stamped, and is ready only once it serves every write (restart-wait.ts). */
  private readonly restartWait: RestartWait;
  /** Sampling, session ids, the slow-request log (trace.ts). */
  readonly tracing: Tracing;
  /** `kvc repair` requests: running (null) or answered, so a retransmission never starts a second repair. */
  private readonly repairs = new BoundedMap<string, RepairReply | null>(repairRequestsInFlightMax * 4);
  // replica: the (from, gen, id) of writes and hint batches seen, pending until durable
  private readonly peerRequestsSeen: PeerDedup;

  // gossip
  private heartbeatCounter = 0;
  private nextHeartbeatMs = 0;

  // counters
  readonly dropped: Record<string, number> = {};
  private droppedSinceLog = 0;
  /** Client replies sent, by kind (see StatusReport.clientReplies): a handful of keys, never more. */
  private readonly clientReplies: Record<string, number> = {};
  private lastDropLogMs = -Infinity;
  private replayed = { records: 0, torn: 0 };
  /** Clock bound, config agreement and cookie trouble, per peer. */
  private readonly checks: PeerChecks;
  /** Versions the replay kept out of the store: stamped beyond the clock bound of the wall clock at start. */
  private readonly quarantined: { what: string; stamp: Stamp; aheadMs: number }[] = [];
  private quarantinedCount = 0;
  /**
   * Keys whose version the replay kept out, until peers confirm this clock (then they were
   * poisoned and are dropped): this replica does not answer replica reads of them meanwhile, since
   * its copy may be missing a version that is real (when it is this clock that runs slow).
   */
  private readonly quarantinedKeys = new Set<Key>();
  private quarantineDropped = false;

  constructor(opts: NodeOptions) {
    this.config = opts.config;
    this.self = opts.self;
    this.generation = opts.generation;
    this.repairMode = opts.repairMode ?? opts.config.repairMode;
    const self = opts.config.nodes[opts.self];
    if (self === undefined) throw new RangeError(`node: no node ${opts.self} in a cluster of ${opts.config.nodes.length}`);
    this.name = self.name;
    this.holder = new RingHolder({ nodes: opts.config.nodes, ring: firstRing(opts.config.nodes, opts.config.replicationFactor) });
    this.placement = new Placement(this.holder.ring, keySpaceOf(opts.config), opts.config.nodes.map((n) => n.name));
    this.store = new Store(this.ring.keySpace);
    this.hlc = new Hlc(opts.self);
    this.detector = new FailureDetector(opts.config.nodes.length, opts.self, opts.config.downAfterMs, opts.nowMs);
    this.requests = new RequestTracker(opts.random);
    this.peerRequestsSeen = new PeerDedup(Math.ceil(dedupEntriesMax / opts.config.nodes.length));
    this.addresses = opts.config.nodes.map(addressOf);
    this.nowMs = Math.floor(opts.nowMs);
    this.checks = new PeerChecks(opts.config.nodes.length, opts.self, configDigest(opts.config), opts.config.maxClockSkewMs,
      (level, name, text) => this.log(level, name, text), (node) => this.nameOf(node));
    this.restartWait = new RestartWait(this.generation, opts.restarted === true, opts.config.maxClockSkewMs, opts.previousStoppedAtMs);
    const node = this;
    const ports: NodePorts = {
      self: this.self, name: this.name, generation: this.generation, config: this.config, requests: this.requests,
      get ring() { return node.placement; },
      writesServedFromMs: this.restartWait.writesServedFromMs,
      nowMs: () => this.nowMs,
      clockMs: () => Math.max(this.nowMs, this.clockMs),
      isUp: (node) => this.detector.isUp(node) && this.checks.trusted(node),
      append: (record, then) => this.append(record, then),
      sendPeer: (to, msg) => this.sendPeer(to, msg),
      reply: (client, msg) => this.reply(client, msg),
      log: (level, name, text) => this.log(level, name, text),
      countDrop: (reason) => this.countDrop(reason),
      logWritable: () => this.logFull === null,
      nameOf: (node) => this.nameOf(node),
      clockProblem: () => this.checks.clockWarning() ?? this.clockSteppedBack(),
    };
    this.handoff = new HintedHandoff(ports, this.repairMode !== 'read-repair');
    this.tracing = new Tracing(opts.self, opts.config.traceProbability ?? 0, opts.config.slowRequestMs ?? 0, opts.random, (text) => this.log('warn', 'slow-request', text));
    this.coordinator = new Coordinator(ports, this.hlc, this.handoff, this.repairMode !== 'hinted-handoff', this.tracing);
    this.makeAntiEntropy = () => new AntiEntropy(ports, { read: (key) => this.store.read(key), keysIn: (slot) => this.store.keysIn(slot), writeLocal: (writes, done) => this.writeLocal(writes, done) }, opts.random);
    this.antiEntropy = this.makeAntiEntropy();
    this.ringPeer = new RingPeer(this.holder, {
      self: opts.self, peerNames: opts.config.nodes.map((n) => n.name), replicationFactor: opts.config.replicationFactor,
      nowMs: () => this.nowMs,
      append: (record, then) => this.append(record, then),
      afterDurable: (lsn, then) => { if (lsn <= this.syncedLsn) then(); else this.waiting.push({ lsn, then }); },
      send: (to, msg) => this.sendPeer(to, msg),
      adopt: (ring) => this.followHeldRing(ring),
      log: (level, name, text) => this.log(level, name, text),
      countDrop: (reason) => this.countDrop(reason),
    });
  }

  private readonly makeAntiEntropy: () => AntiEntropy;

  /**
   * After the replay brought a ring state: places keys by the ring held rather than nodes.toml's.
   * Its members are addressed through nodes.toml's peer table (until peers come from the ring), so
   * a member the file does not list is refused: its writes would be silently lost.
   */
  private followHeldRing(ring = this.holder.ring): void {
    if (ring === this.placement.ring) return;
    const peers = this.config.nodes.map((n) => n.name);
    // At runtime ring-peer.ts adopts only a ring that passes this check, so this throws only at start.
    const problem = followProblem(ring, peers, this.config.replicationFactor);
    if (problem !== null) throw new RingPeersError(`${this.name}: refusing to start: the ring it holds (epoch ${ring.epoch}) has ${problem}`);
    this.placement = new Placement(ring, this.placement.keySpace, peers);
    this.antiEntropy = this.makeAntiEntropy(); // its per-peer slot lists come from the ring
    if (this.started) this.antiEntropy.start();
  }

  /** Where keys live at the ring's current epoch. */
  get ring(): Placement {
    return this.placement;
  }

  /** The hints this node holds for others (hinted handoff). */
  get hints(): HintStore {
    return this.handoff.hints;
  }

  // ---- replay ------------------------------------------------------------------------------------

  /** Rebuilds data and hints from one durable log record, before `start`. */
  replay(record: LogRecord): void {
    if (this.started) throw new Error('node: replay after start');
    this.refuseOtherKeySpace(record);
    this.replayed.records++;
    const kept = this.withoutFutureStamps(record);
    if (kept !== null) this.applyRecord(kept);
  }

  /**
   * Replay must not re-adopt a poisoned stamp: one further ahead of the wall clock than the bound
   * was made by a clock that ran fast, or this clock now runs slow. Applied, it would drag the HLC
   * ahead and win over every later write of its key until the wall clock caught up. Such versions
   * (and hints) are kept out of memory and named in the start line and status, but stay in the log
   * until a majority of peers' heartbeats show this clock is right: then they were poisoned, and a
   * snapshot drops them for good. If instead this clock is the wrong one (a host booted an hour
   * behind), the node refuses clients (clockWarning) and a restart with the clock fixed brings them back.
   */
  private withoutFutureStamps(record: LogRecord): LogRecord | null {
    const bound = this.nowMs + this.config.maxClockSkewMs;
    const poisoned = (key: Key, stamp: Stamp, target: NodeIndex | null) => {
      if (stamp[0] <= bound) return false;
      this.quarantinedCount++;
      if (target === null) this.quarantinedKeys.add(key);
      const what = target === null ? `key ${key}` : `hint for ${this.nameOf(target)} of key ${key}`;
      if (this.quarantined.length < quarantinedKeysListedMax) this.quarantined.push({ what, stamp, aheadMs: aheadOf(stamp, this.nowMs) });
      return true;
    };
    switch (record.t) {
      case 'w': return poisoned(record.key, record.stamp, null) ? null : record;
      case 'h': return poisoned(record.key, record.stamp, record.target) ? null : record;
      case 'hd': case 'ring': return record;
      case 'snap': return {
        ...record,
        writes: record.writes.filter(([key, , stamp]) => !poisoned(key, stamp, null)),
        hints: record.hints.filter(([target, key, , stamp]) => !poisoned(key, stamp, target)),
      };
    }
  }

  /**
   * Data written under the other partitioner (or a larger key_bytes_max) would be placed on other
   * slots, on other replicas: the replica refuses to start on it rather than serve it misplaced.
   */
  private refuseOtherKeySpace(record: LogRecord): void {
    const keys = record.t === 'snap' ? [...record.writes.map((w) => w[0]), ...record.hints.map((h) => h[1])] : record.t === 'ring' ? [] : [record.key];
    for (const key of keys) {
      const why = keyKindMismatch(key, this.ring.keySpace);
      if (why !== null) {
        throw new KeySpaceMismatchError(`${this.name}: refusing to start: ${why}. Start it with the partitioner its data was written under, ` +
          `or move its data dir aside to rebuild it from its peers`);
      }
    }
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
      case 'ring':
        this.holder.replay(record.acceptor);
        this.followHeldRing();
        break;
      case 'snap':
        this.hints.clear();
        for (const [key, value, stamp] of record.writes) { this.hlc.observe(stamp); this.store.apply(key, value, stamp); }
        for (const [target, key, value, stamp, atMs] of record.hints) this.hints.add(target, key, value, stamp, atMs);
        if (record.ring !== undefined) { this.holder.replay(record.ring); this.followHeldRing(); }
        break;
    }
  }

  // ---- step --------------------------------------------------------------------------------------

  step(input: Input, nowMs: number): Effect[] {
    this.effects = [];
    this.nowMs = Math.max(this.nowMs, Math.floor(nowMs)); // whole ms: stamps and log records hold integers
    this.clockMs = nowMs; // with its fraction, for the HLC's counter (see hlc.counterPerMs)
    switch (input.kind) {
      case 'start': this.start(); break;
      case 'message': if (this.started) this.receive(input.from, input.msg, input.sender); break;
      case 'tick': if (this.started) this.tick(); break;
      case 'synced': this.synced(input.upToLsn, input.logBytes); break;
      case 'dropped': this.countDrop(input.reason); if (input.reason === 'forged' || input.reason === 'unknown-key') this.forgedFrom(input.from); break;
      case 'append-failed': this.appendFailed(input.fromLsn, input.toLsn, input.reason); break;
      case 'cookie-notice': this.cookieNotice(input.from); break;
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
      `${this.name} started (generation ${this.generation}): replayed ${count(this.replayed.records, 'log record')}` +
      `${this.replayed.torn > 0 ? `, dropped a torn tail of ${this.replayed.torn} bytes` : ''}; ` +
      `${count(this.store.liveKeys, 'key')}, ${count(this.store.tombstones, 'tombstone')}, ${count(this.hints.count, 'hint')} restored`);
    if (this.quarantinedCount > 0) {
      this.log('warn', 'clock-skew', `replay kept ${count(this.quarantinedCount, 'version')} out (stamped beyond max_clock_skew_ms ` +
        `(${this.config.maxClockSkewMs}) ahead of this clock, so made by a clock that ran fast, or this one runs slow): ` +
        `${this.quarantined.map((q) => `${q.what} ${formatStamp(q.stamp)} (+${q.aheadMs} ms)`).join(', ')}` +
        `${this.quarantinedCount > this.quarantined.length ? ' …' : ''}; they stay in the log until a majority of peers confirm this clock`);
    }
    const disagreement = this.holder.fileDisagreement();
    if (disagreement !== null) this.log('warn', 'ring-file', `${this.name}: ${disagreement}`);
    const wait = this.restartWait.startText(this.nowMs);
    if (wait !== null) this.log('info', 'starting', wait);
    this.maybeReady();
    this.heartbeatAll();
    this.handoff.start();
    this.antiEntropy.start();
  }

  private receive(from: Address, msg: Message, sender: Principal | undefined): void {
    if (sender !== undefined) {
      const why = refusal(msg, sender);
      if (why !== null) return this.refuse(from, msg, sender, why);
    }
    if (isClientRequest(msg)) return this.onClientRequest(from, msg);
    if (!('from' in msg)) return this.countDrop('unexpected');
    const peer = msg.from;
    if (peer === this.self || this.addresses[peer] !== from) return this.countDrop('spoofed');
    this.onPeerMessage(peer, msg);
  }

  /**
   * A message its sender may not send: counted by reason; a client is told why (sealed under its own
   * credential, so only it can read it), a replica message from a client changes nothing.
   */
  private refuse(from: Address, msg: Message, sender: Principal, why: Refusal): void {
    this.countDrop(why);
    if (sender.kind === 'client' && isClientRequest(msg)) {
      this.reply(from, { t: 'fail', id: msg.id, error: 'Forbidden', message: refusalText(msg, sender, why) });
    }
  }

  private onPeerMessage(peer: NodeIndex, msg: Message): void {
    switch (msg.t) {
      case 'hb': return this.onHeartbeat(peer, msg);
      case 'ring': return this.ringPeer.receive(peer, msg);
      case 'rw': case 'rr': case 'hints': case 'ae': case 'ae.pull': return this.onPeerRequest(peer, msg);
      case 'rw.ok': case 'rr.ok': case 'hints.ok': case 'ae.ok': case 'ae.pull.ok': return this.onPeerReply(peer, msg);
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
  private append(record: LogRecord, then: (() => void) | null): number {
    const lsn = this.nextLsn++;
    this.pending.push({ lsn, record, then });
    this.recordsSinceSnapshot++;
    this.effects.push({ kind: 'append', lsn, record });
    return lsn;
  }

  private synced(upToLsn: number, logBytes: number): void {
    this.logBytes = logBytes;
    if (this.logFull !== null && upToLsn > this.logFull.lastFailedLsn) this.logWritableAgain();
    this.syncedLsn = Math.max(this.syncedLsn, upToLsn);
    while (this.pending.length > 0 && this.pending[0]!.lsn <= this.syncedLsn) {
      const p = this.pending.shift()!;
      if (p.record.t !== 'ring') this.applyRecord(p.record); // the ring state was taken in memory when appended (ring-peer.ts)
      if (p.record.t === 'w' && this.pendingByKey.get(p.record.key)?.lsn === p.lsn) this.pendingByKey.delete(p.record.key);
      p.then?.();
    }
    if (this.waiting.some((w) => w.lsn <= this.syncedLsn)) {
      const ready = this.waiting.filter((w) => w.lsn <= this.syncedLsn);
      this.waiting = this.waiting.filter((w) => w.lsn > this.syncedLsn);
      for (const w of ready) w.then();
    }
  }

  /**
   * The disk had no room for these records: they are never applied and their `then` (an ack) never
   * runs. Requests from peers that waited on them are forgotten, so a retransmission appends again:
   * that is how writes resume once space returns, without a restart.
   */
  private appendFailed(fromLsn: number, toLsn: number, reason: string): void {
    const refused = (lsn: number) => lsn >= fromLsn && lsn <= toLsn;
    const before = this.pending.length;
    const lost = this.pending.filter((p) => refused(p.lsn));
    this.pending.splice(0, this.pending.length, ...this.pending.filter((p) => !refused(p.lsn)));
    // Acks that waited for one of these records (another request's copy of the same version) are lost with it.
    this.waiting = this.waiting.filter((w) => !refused(w.lsn));
    for (const [key, p] of this.pendingByKey) if (refused(p.lsn)) this.pendingByKey.delete(key);
    this.recordsSinceSnapshot = Math.max(0, this.recordsSinceSnapshot - (before - this.pending.length));
    this.peerRequestsSeen.forgetPending();
    this.logAppendsFailed++;
    for (const { record } of lost) this.keepRefused(record);
    if (this.logFull === null) {
      this.log('warn', 'disk-full', `log append failed (${reason}): acking no writes until the disk takes them again; reads and heartbeats go on`);
      this.logFull = { sinceMs: this.nowMs, lastFailedLsn: toLsn };
      this.nextRefusedRetryMs = this.nowMs + logFullRetryIntervalMs;
    } else {
      this.logFull.lastFailedLsn = Math.max(this.logFull.lastFailedLsn, toLsn);
    }
  }

  /**
   * Keeps the newest refused version of each key (data), and of each target and key (hints, and
   * hint deliveries: without its record a delivered hint would stay held, marked in flight, for good).
   */
  private keepRefused(record: LogRecord): void {
    if (record.t === 'snap') return; // never appended
    if (record.t === 'ring') { this.ringRefused = true; return; } // each holds the whole state: the current one is enough
    const id = record.t === 'w' ? `w:${record.key}` : `${record.t}:${record.target}:${record.key}`;
    const kept = this.refusedRecords.get(id);
    if (kept === undefined || compareStamps(record.stamp, kept.stamp) > 0) this.refusedRecords.set(id, record);
  }

  /** On tick: appends the refused records again; refused once more, they come back to refusedRecords. */
  private retryRefused(): void {
    if ((this.refusedRecords.size === 0 && !this.ringRefused) || this.nowMs < this.nextRefusedRetryMs) return;
    this.nextRefusedRetryMs = this.nowMs + logFullRetryIntervalMs;
    const records = [...this.refusedRecords.values()];
    this.refusedRecords.clear();
    if (this.ringRefused) { this.ringRefused = false; this.ringPeer.rewritten(this.append(this.holder.record(), null)); }
    for (const record of records) {
      const held = record.t === 'w' ? this.store.read(record.key) : undefined;
      if (held === undefined || compareStamps(record.stamp, held.stamp) > 0) this.append(record, null);
    }
  }

  private logWritableAgain(): void {
    const full = this.logFull!;
    this.log('info', 'disk-ok', `log appends succeed again after ${this.nowMs - full.sinceMs} ms: acking writes (${this.logAppendsFailed} appends refused so far)`);
    this.logFull = null;
  }

  /** Memory holds every record up to syncedLsn: that is what a snapshot covers (see effects.ts). */
  private maybeSnapshot(): void {
    if (this.recordsSinceSnapshot < recordsPerSnapshotMin || this.logFull !== null) return;
    const writes: [Key, StoredValue, Stamp][] = [];
    for (const [key, v] of this.store.entries()) writes.push([key, v.value, v.stamp]);
    this.effects.push({ kind: 'snapshot', coversLsn: this.syncedLsn, record: { t: 'snap', writes, hints: this.hints.dump(), ...this.holder.snapshotPart() } });
    this.recordsSinceSnapshot = this.pending.length;
  }

  // ---- replica side ------------------------------------------------------------------------------

  private onPeerRequest(peer: NodeIndex, msg: PeerRequest): void {
    if (this.refusesPeerRequest(peer, msg)) return;
    if (msg.t === 'rr') {
      // A read changes nothing, so a retransmitted one is simply read again: its reply (a value of
      // up to 60 KB) is never cached.
      if (!this.ring.holds(this.self, msg.key)) return this.countDrop('misrouted');
      if (this.quarantinedKeys.has(msg.key)) return this.countDrop('clock-skew'); // its copy may lack a real version
      const v = this.store.read(msg.key);
      const reply: PeerReply = { t: 'rr.ok', from: this.self, id: msg.id, value: v?.value ?? null, stamp: v?.stamp ?? null };
      if (msg.trace === true) reply.trace = this.traceRead(peer, v?.stamp ?? null);
      return this.sendPeer(peer, reply);
    }
    // Anti-entropy's questions read only, like rr: answered again when retransmitted.
    if (msg.t === 'ae') return this.sendPeer(peer, this.antiEntropy.onDigests(peer, msg));
    if (msg.t === 'ae.pull') return this.sendPeer(peer, this.antiEntropy.onPull(peer, msg));
    const ack: PeerReply = msg.t === 'rw' ? { t: 'rw.ok', from: this.self, id: msg.id } : { t: 'hints.ok', from: this.self, id: msg.id };
    const seen = this.peerRequestsSeen.seen(peer, msg.gen, msg.id);
    if (seen === 'pending') return; // its records are on the way to disk; the ack follows
    if (seen === 'done') return this.sendPeer(peer, ack);

    const writes = msg.t === 'rw' ? [[msg.key, msg.value, msg.stamp] as const] : msg.writes;
    if (writes.some(([key]) => !this.ring.holds(this.self, key))) return this.countDrop('misrouted');
    this.peerRequestsSeen.start(peer, msg.gen, msg.id);
    const traced = msg.t === 'rw' && msg.trace === true ? this.traceWrite(peer, msg.key) : null;
    this.writeLocal(writes, (fresh) => {
      this.peerRequestsSeen.finish(peer, msg.gen, msg.id);
      if (traced !== null && ack.t === 'rw.ok' && msg.t === 'rw') ack.trace = traced(fresh.length > 0, msg.stamp);
      this.sendPeer(peer, ack);
    });
  }

  /** A traced replica read: its steps, for the reply. */
  private traceRead(peer: NodeIndex, stamp: Stamp | null): ReplicaTrace['events'] {
    const nowUs = toUs(this.clockMs);
    const t = new ReplicaTrace(this.self, nowUs, peer, 'read');
    t.add('read-local', nowUs, { stamp });
    t.add('replied', nowUs, { peer });
    return t.events;
  }

  /** A traced replica write, from arrival: once it is durable (or found not newer), its steps for the ack. */
  private traceWrite(peer: NodeIndex, key: Key): (fresh: boolean, stamp: Stamp) => ReplicaTrace['events'] {
    const receivedUs = toUs(this.clockMs);
    const t = new ReplicaTrace(this.self, receivedUs, peer, 'write');
    const held = this.store.read(key)?.stamp ?? null;
    return (fresh, stamp) => {
      const nowUs = toUs(this.clockMs);
      if (fresh) {
        t.add('applied', receivedUs, { stamp, old: held });
        t.add('durable', nowUs, { n: nowUs - receivedUs });
      } else {
        t.add('not-newer', receivedUs, { stamp, old: held });
      }
      t.add('replied', nowUs, { peer });
      return t.events;
    };
  }

  /**
   * Makes these versions (values or tombstones) durable here, then calls `done` with the keys that
   * were newer than what is stored. A version no newer (durably: memory holds only synced records)
   * needs no record.
   */
  private writeLocal(writes: readonly (readonly [Key, StoredValue, Stamp])[], done: (fresh: Key[]) => void): void {
    // A version already on its way to disk (another request brought it, or a newer one) is not
    // written twice: this request's ack waits for that record instead.
    let waitLsn = 0;
    const fresh = writes.filter(([key, , stamp]) => {
      this.hlc.observe(stamp);
      const pending = this.pendingByKey.get(key);
      if (pending !== undefined && compareStamps(stamp, pending.stamp) <= 0) {
        waitLsn = Math.max(waitLsn, pending.lsn);
        return false;
      }
      const held = this.store.read(key);
      return held === undefined || compareStamps(stamp, held.stamp) > 0;
    });
    const keys = fresh.map(([key]) => key);
    if (fresh.length === 0) {
      if (waitLsn > this.syncedLsn) this.waiting.push({ lsn: waitLsn, then: () => done(keys) });
      else done(keys);
      return;
    }
    // The last append's lsn is past waitLsn, so its sync covers every record this request waits for.
    fresh.forEach(([key, value, stamp], i) => {
      const lsn = this.append({ t: 'w', key, value, stamp }, i === fresh.length - 1 ? () => done(keys) : null);
      this.pendingByKey.set(key, { stamp, lsn });
    });
  }

  /**
   * Replica traffic is refused from a peer whose config differs or whose clock is beyond the bound,
   * and a write or hint batch carrying a stamp beyond the bound of this clock is refused whole
   * (never stored, never adopted by the HLC; no ack, so the sender keeps it as a hint until it expires).
   */
  private refusesPeerRequest(peer: NodeIndex, msg: PeerRequest): boolean {
    if (!this.checks.trusted(peer)) {
      this.countDrop(this.checks.report(peer, this.nowMs).configMismatch ? 'config-mismatch' : 'clock-skew');
      return true;
    }
    if (msg.t === 'rr' || msg.t === 'ae' || msg.t === 'ae.pull') return false; // read only: nothing is stored
    const stamps = msg.t === 'rw' ? [msg.stamp] : msg.writes.map((w) => w[2]);
    const aheadMs = Math.max(...stamps.map((st) => aheadOf(st, this.nowMs)));
    if (aheadMs <= this.config.maxClockSkewMs) return false;
    this.checks.stampRefused(peer, msg.t === 'rw' ? `a write of key ${msg.key}` : `a batch of ${msg.writes.length} hints`, aheadMs, this.nowMs);
    this.countDrop('clock-skew');
    return true;
  }

  /** Peers confirm this clock: the versions the replay kept out were poisoned; a snapshot now drops them from the log. */
  private maybeDropQuarantined(): void {
    if (this.quarantinedCount === 0 || this.quarantineDropped || !this.checks.clockConfirmed()) return;
    this.quarantineDropped = true;
    this.quarantinedKeys.clear();
    this.log('warn', 'clock-skew', `a majority of peers agree with this clock: the ${this.quarantinedCount} versions the replay kept out ` +
      `were stamped by a clock that ran fast; a snapshot drops them from the log`);
    this.recordsSinceSnapshot = recordsPerSnapshotMin;
  }

  /** The HLC runs further ahead of the wall clock than the bound: the clock was stepped back (or ran fast until now). */
  private clockSteppedBack(): string | null {
    const aheadMs = aheadOf(this.hlc.latest(), this.nowMs);
    if (aheadMs <= this.config.maxClockSkewMs) return null;
    return `this replica's clock reads ${aheadMs} ms behind the stamps it has made, beyond max_clock_skew_ms (${this.config.maxClockSkewMs}): ` +
      `its clock was stepped back or ran fast; peers refuse stamps made now. Restart it once the clock is right`;
  }

  private forgedFrom(from: Address): void {
    const peer = this.addresses.indexOf(from);
    if (peer >= 0 && peer !== this.self) this.checks.forged(peer, this.nowMs);
  }

  private cookieNotice(from: Address): void {
    const peer = this.addresses.indexOf(from);
    if (peer >= 0 && peer !== this.self) this.checks.refusesOurCookie(peer, this.nowMs);
  }

  // ---- gossip and failure detection --------------------------------------------------------------

  private heartbeatAll(): void {
    this.heartbeatCounter++;
    const hb: Message = {
      t: 'hb', from: this.self, gen: this.generation, counter: this.heartbeatCounter, hlc: this.hlc.latest(),
      wall: this.nowMs, digest: this.checks.digest, epoch: this.placement.ring.epoch,
    };
    for (let peer = 0; peer < this.addresses.length; peer++) if (peer !== this.self) this.sendPeer(peer, hb);
    this.nextHeartbeatMs = this.nowMs + this.config.gossipIntervalMs;
  }

  private onHeartbeat(peer: NodeIndex, hb: Heartbeat): void {
    // A heartbeat from a clock beyond the bound, or from another config, is no sign of life: the peer goes DOWN here.
    if (!this.checks.heartbeat(peer, hb.wall, hb.digest, this.nowMs)) return;
    // Its HLC may run ahead of its wall clock (carried by a third clock): adopted only within the bound.
    this.hlc.observeWithin(hb.hlc, this.nowMs, this.config.maxClockSkewMs);
    this.maybeDropQuarantined();
    this.ringPeer.heartbeat(peer, hb.epoch ?? 0);
    const generation = hb.gen;
    const outcome = this.detector.heartbeat(peer, generation, this.nowMs);
    const name = this.nameOf(peer);
    if (outcome === 'first-contact') this.log('info', 'peer-up', `peer ${name} UP (first heartbeat, generation ${generation})`);
    if (outcome === 'up' || outcome === 'restarted') {
      this.log('info', 'peer-up', `peer ${name} UP${outcome === 'restarted' ? ` (restarted, generation ${generation})` : ''}` +
        `${this.hints.countFor(peer) > 0 ? `; delivering ${count(this.hints.countFor(peer), 'hint')}` : ''}`);
    }
    if (outcome !== 'stale' && outcome !== 'alive') this.handoff.deliver(peer);
  }

  private tick(): void {
    for (const peer of this.detector.expire(this.nowMs)) {
      this.log('warn', 'peer-down', `peer ${this.nameOf(peer)} DOWN (silent for over ${this.config.downAfterMs} ms)`);
    }
    if (this.nowMs >= this.nextHeartbeatMs) this.heartbeatAll();
    const { retransmit, expired } = this.requests.due(this.nowMs);
    for (const out of retransmit) { this.sendPeer(out.to, out.msg); out.onResend?.(out.attempts); }
    for (const out of expired) out.onGiveUp();
    this.coordinator.tick();
    this.handoff.tick();
    this.antiEntropy.tick();
    this.retryRefused();
    this.logDrops();
    this.maybeReady();
  }

  /** Tells the runtime, once, that every write sent from now on is served (kvd then signals pm2 'ready'). */
  private maybeReady(): void {
    if (!this.restartWait.becameReady(this.nowMs)) return;
    const text = this.restartWait.readyText(this.nowMs);
    if (text !== null) this.log('info', 'serving', text);
    this.effects.push({ kind: 'serving' });
  }

  // ---- clients ----------------------------------------------------------------------------------

  private onClientRequest(client: Address, req: ClientRequest): void {
    switch (req.t) {
      case 'local': {
        const v = this.store.read(req.key);
        return this.reply(client, { t: 'local.ok', id: req.id, key: req.key, value: v?.value ?? null, stamp: v?.stamp ?? null, node: this.name });
      }
      case 'status': return this.reply(client, { t: 'status.ok', id: req.id, status: this.status() });
      case 'repair': return this.onRepair(client, req);
      case 'state': return this.reply(client, { t: 'state.ok', id: req.id, state: this.state() });
      case 'time': return this.reply(client, { t: 'time.ok', id: req.id, nowMs: this.nowMs, node: this.name });
      case 'client.set': case 'keyring': return this.countDrop('unexpected'); // the runtime keeps credentials and keys (io/)
      default: return this.coordinator.request(client, req);
    }
  }

  /** `kvc repair`: a round with every peer now, answered once all are done. */
  private onRepair(client: Address, req: RepairRequest): void {
    const id = req.id;
    const opKey = `${client}|${id}`;
    const known = this.repairs.get(opKey);
    if (known === null) return; // a retransmission of a repair still running
    if (known !== undefined) return this.reply(client, known);
    const trace = req.trace === true || this.tracing.probability > 0
      ? this.tracing.start(req.trace === true, this.clockMs, { op: 'repair', key: null, level: null, client }) : null;
    const started = this.antiEntropy.repairAll((peers) => {
      const reply: RepairReply = { t: 'repair.ok', id, node: this.name, peers };
      if (trace !== null) {
        const failed = peers.filter((p) => !p.reached || p.error !== null).map((p) => p.name);
        reply.trace = trace.report('repaired', toUs(this.clockMs), { note: failed.length === 0 ? 'every peer done' : `not repaired: ${failed.join(', ')}` });
      }
      this.repairs.set(opKey, reply);
      this.reply(client, reply);
    }, trace === null ? undefined : (r) => {
      const peer = this.config.nodes.findIndex((n) => n.name === r.name);
      trace.add('repair-round', toUs(this.clockMs), { peer, n: r.sent, m: r.received, ...(r.reached && r.error === null ? {} : { note: clip(`not repaired: ${r.error ?? 'not reached'}`) }) });
    });
    if (!started) {
      return this.reply(client, { t: 'fail', id, error: 'Overloaded', message: `Overloaded: ${this.name} is already running ${repairRequestsInFlightMax} repairs` });
    }
    if (this.repairs.get(opKey) === undefined) this.repairs.set(opKey, null);
  }

  private reply(client: Address, msg: ClientReply): void {
    const kind = msg.t === 'fail' ? `fail:${msg.error}` : msg.t.slice(0, -'.ok'.length);
    this.clientReplies[kind] = (this.clientReplies[kind] ?? 0) + 1;
    this.effects.push({ kind: 'reply', to: client, msg });
  }

  private onPeerReply(peer: NodeIndex, reply: PeerReply): void {
    this.requests.settle(reply.id, peer, this.nowMs)?.onReply(reply);
  }

  // ---- status, drops, invariants -----------------------------------------------------------------

  status(): StatusReport {
    const keys = this.ring.keySpace;
    return {
      node: this.name,
      ...(keys.partitioner === 'hashed' ? { partitioner: 'hashed' as const, keyBytesMax: keys.keyBytesMax } : {}),
      replicationFactor: this.config.replicationFactor,
      repairMode: this.repairMode,
      ring: this.ring.ranges.map((r) => ({ first: r.first, last: r.last, replicas: r.replicas.map((n) => this.nameOf(n)) })),
      antiEntropyIntervalMs: this.config.antiEntropyIntervalMs,
      peers: this.config.nodes.map((n, i) => ({
        name: n.name, up: this.detector.isUp(i) && this.checks.trusted(i), hintsPending: this.hints.countFor(i), hintsExpired: this.handoff.expiredFor(i),
        antiEntropy: this.antiEntropy.report(i),
        ...this.checks.report(i, this.nowMs),
      })),
      keysStored: this.store.liveKeys,
      tombstones: this.store.tombstones,
      logBytes: this.logBytes,
      logRecords: this.recordsSinceSnapshot,
      droppedDatagrams: { ...this.dropped },
      clientRequestsInFlight: this.coordinator.inFlight,
      logWritable: this.logFull === null,
      logAppendsFailed: this.logAppendsFailed,
      configDigest: this.checks.digest,
      clockWarning: this.checks.clockWarning(),
      quarantinedAtReplay: this.quarantinedCount,
      writesServedInMs: this.restartWait.remainingMs(this.nowMs),
      clientReplies: { ...this.clientReplies },
    };
  }

  /** Everything this replica knows, for `kvc state` (state.ts); the runtime adds its figures on the way out. */
  state(): StateReport {
    const links = this.config.nodes.map((n, i) => (i === this.self
      ? { name: n.name, heartbeatAgeMs: null, rttMs: null }
      : { name: n.name, heartbeatAgeMs: this.nowMs - this.detector.view(i).lastHeardMs, rttMs: this.requests.rttMs(i) }));
    const sampled = this.tracing.recentSampled();
    return {
      status: this.status(), generation: this.generation, wallMs: this.nowMs, links,
      ...slowSummaries(this.tracing.recentSlow()), sampledTrace: sampled.at(-1) ?? null, figures: null,
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
    // By slot and by the newest stamp, not by key: the same checks, at a cost that does not grow with the keys.
    for (let slot = 0; slot < slotCount; slot++) {
      const held = this.store.keysIn(slot);
      if (held.size > 0 && !this.ring.holdsSlot(this.self, slot)) bad.push(`stores keys ${summarizeKeys([...held])} of slot ${slot}, which it does not replicate`);
    }
    const newest = this.store.newestStamp;
    if (newest !== null && (newest[0] > latest[0] || (newest[0] === latest[0] && newest[1] > latest[1]))) bad.push(`hlc ${formatStamp(latest)} behind stored ${formatStamp(newest)}`);
    for (const target of this.hints.targets()) {
      if (target === this.self) bad.push('holds hints for itself');
      if (this.hints.countFor(target) > this.ring.keySpace.hintsPerTargetMax) bad.push(`over the hint limit for ${target}`);
      for (const h of this.hints.hintsFor(target)) if (!this.ring.holds(target, h.key)) bad.push(`hint for ${target} of key ${h.key} it does not hold`);
    }
    if (this.coordinator.inFlight > clientRequestsInFlightMax) bad.push('client requests over the limit');
    for (let i = 1; i < this.pending.length; i++) if (this.pending[i]!.lsn !== this.pending[i - 1]!.lsn + 1) bad.push('pending records out of order');
    if (this.pending.length > 0 && this.pending[0]!.lsn <= this.syncedLsn) bad.push('a synced record is still pending');
    if (this.nextLsn - 1 < this.syncedLsn) bad.push('synced past the last append');
    for (const w of this.waiting) if (w.lsn <= this.syncedLsn || w.lsn >= this.nextLsn) bad.push(`an ack waits for record ${w.lsn}, synced ${this.syncedLsn}`);
    for (const [key, p] of this.pendingByKey) if (p.lsn <= this.syncedLsn) bad.push(`key ${key}: a synced record still marked pending`);
    if (this.refusedRecords.size > this.ring.keySpace.keysPerReplicaMax * (1 + 2 * this.config.nodes.length)) bad.push('refused records over their bound');
    return bad;
  }
}
