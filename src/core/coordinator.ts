// The coordinator's side of a client's get, put or del: strict-quorum admission, the fan-out to every
// replica of the key, the answer after `level` acks, timeouts (with hints for replicas that missed
// a write) and read repair. A del is a put of a tombstone (value null): the same stamp, levels,
// hints and repair. One ClientOp per request in flight.
import type { HintedHandoff } from './handoff.js';
import { aheadOf, compareStamps, formatStamp, type Hlc } from './hlc.js';
import { ClientAnswers } from './dedup.js';
import { clientDeadlineMsMax, clientRequestsInFlightMax, dedupEntriesMax } from './limits.js';
import { utf8Bytes, type ClientReply, type CoordinatedRequest, type DelRequest, type GetRequest, type PeerReply, type PeerRequest, type PutRequest } from './messages.js';
import { NoticeLimiter } from './notice-limiter.js';
import type { NodePorts } from './ports.js';
import type { SlotPlacement } from './placement.js';
import { requiredAcks } from './quorum.js';
import { readSatisfied, writeSatisfied } from './ring/acks.js';
import { activityText, clip, toUs, type Trace, type TraceKind, type Tracing } from './trace.js';
import type { Address, ClientError, Key, Level, NodeIndex, Stamp, StoredValue, Versioned } from './types.js';

interface WriteOp {
  kind: 'write';
  client: Address; clientId: number; opKey: string; clientDeadlineMs: number; key: Key; level: Level; value: StoredValue; stamp: Stamp;
  /** The write set at this coordinator's epoch: sent to `placed.write.to`, answered once writeSatisfied (the level within each group). */
  required: number; placed: SlotPlacement; replicas: readonly NodeIndex[]; sentTo: Set<NodeIndex>; acked: Set<NodeIndex>; answered: boolean; deadlineMs: number;
  /** When it arrived (slow_request_ms), and its trace until it is answered (null: untraced). */
  startedMs: number; trace: Trace | null;
}
interface ReadOp {
  kind: 'read';
  client: Address; clientId: number; opKey: string; clientDeadlineMs: number; key: Key; level: Level;
  /** Asked: the live replicas of the key's read set; answered once readSatisfied. */
  required: number; read: readonly NodeIndex[]; asked: NodeIndex[]; replies: Map<NodeIndex, Versioned | null>;
  answered: boolean; deadlineMs: number;
  /** Blocking read repair: replicas still to ack the newest version before the answer goes out. */
  blockingRepair: Set<NodeIndex> | null; answer: Versioned | null; repaired: Set<NodeIndex>;
  /** Every reply is in, or the deadline passed: background repair has been sent. */
  finished: boolean;
  startedMs: number; trace: Trace | null;
}
type ClientOp = WriteOp | ReadOp;

export class Coordinator {
  private readonly ops = new Map<string, ClientOp>();
  /**
   * Answers to puts (and refusals), each kept until its request's deadline, so a retransmitted or
   * replayed put is answered again and never stamped and written twice (see ClientAnswers).
   */
  private readonly answered = new ClientAnswers<{ client: Address; reply: ClientReply }>(dedupEntriesMax);
  /** The budget of ClockSkew answers to requests dated outside this clock's window. */
  private readonly notices = new NoticeLimiter();

  constructor(
    private readonly ports: NodePorts,
    private readonly hlc: Hlc,
    private readonly handoff: HintedHandoff,
    private readonly readRepairing: boolean,
    private readonly tracing: Tracing,
  ) {}

  get inFlight(): number {
    return this.ops.size;
  }

  request(client: Address, req: CoordinatedRequest): void {
    const { config, ring, requests, name } = this.ports;
    const opKey = clientOpKey(req);
    const running = this.ops.get(opKey);
    if (running !== undefined) { this.sameClient(running.client, client); return; } // a retransmission of a request still in progress
    const done = this.answered.get(opKey);
    if (done !== undefined) {
      if (this.sameClient(done.client, client)) this.ports.reply(client, done.reply);
      return;
    }
    if (this.ports.nowMs() > req.deadlineMs) {
      // Past its deadline (by this coordinator's clock), and neither running nor answered here (a
      // copy of one that is gets its answer above, until the cache forgets it at the deadline's
      // sweep; past that a late copy of a put that ran is refused too, and its client, if it still
      // listens, is told an earlier copy may have run). Never started, since stamping it now could
      // overwrite writes made after its client gave up. It is a late retransmission, a request that
      // waited in a paused process, a replay after this replica restarted (within a run the seal's
      // replay window drops those first), or a client whose clock is behind this one. Only the last
      // is still listening: it hears ClockSkew with this clock, within the notice budget.
      return this.refuseDated(client, req, 'expired', `its deadline ${req.deadlineMs} passed ${this.ports.nowMs() - req.deadlineMs} ms ago`);
    }
    // Every refusal from here on is for a request this process has not started: a copy of one it
    // ran is answered above, never refused as if nothing had been written. One its previous process
    // may have run is answered Timeout before anything else (see writesServedFromMs below).
    // Traced when the client asks or trace_probability samples it; untraced, this is the only cost.
    const trace = req.trace === true || this.tracing.probability > 0
      ? this.tracing.start(req.trace === true, this.ports.clockMs(), { op: req.t, key: req.key, level: req.level, client }) : null;
    const fail = (error: ClientError, message: string) => {
      const reply: ClientReply = { t: 'fail', id: req.id, error, message };
      const report = trace?.report(error === 'Unavailable' ? 'unavailable' : 'refused', this.nowUs(), { note: clip(message) }) ?? null;
      if (report !== null) {
        if (!report.sampled) reply.trace = report;
        this.tracing.finished({ op: req.t, key: req.key, level: req.level, atMs: this.ports.nowMs(), durationMs: 0, outcome: message, trace: report });
      }
      this.answer(client, req.id, reply, opKey, req.deadlineMs);
    };
    if (req.t !== 'get' && req.sentAtMs < this.ports.writesServedFromMs) {
      // The previous incarnation may have stamped this very write and died before answering; its
      // answer died with it, so a second stamp (later, newer) could overwrite writes acknowledged
      // in between. A write sent before this process started (with the clock bound on either side,
      // as CockroachDB waits out its max offset at start) is answered Timeout: it may have run.
      this.ports.countDrop('before-restart');
      const clockProblem = this.ports.clockProblem();
      return fail('Timeout', `Timeout: ${name} restarted (generation ${this.ports.generation}) after this ${req.t} may have reached its ` +
        `previous process; it may or may not have been applied (writes sent from ${this.ports.writesServedFromMs} on are served)` +
        `${clockProblem === null ? '' : `; besides, ${clockProblem}`}`);
    }
    if (!this.admitAge(client, req)) return;
    if (req.t !== 'get' && this.ports.nowMs() < this.ports.writesServedFromMs) {
      // Sent after the wait-out's end by a client clock ahead of this one, and arrived before it
      // (restart-wait.ts): safe to serve, but not yet to stamp. Left unanswered rather than refused:
      // its retransmissions (the same id and sentAtMs) arrive after the wait, at most
      // max_clock_skew_ms away, and are served then; an answer now could only be a refusal.
      this.ports.countDrop('starting');
      return;
    }

    // Stamps made here now would be refused by most peers, or lose to older writes.
    const clockProblem = this.ports.clockProblem();
    // It can be a start-up reason (the replay found stamps ahead of the clock): say that the write was not applied.
    if (clockProblem !== null) return fail('Unavailable', `Unavailable: ${name}: ${clockProblem}${req.t === 'get' ? '' : ` (this ${req.t} was not applied)`}`);
    if (req.seen !== undefined && !this.orderAfterSeen(req.seen)) {
      return fail('Unavailable', `Unavailable: this client has seen stamp ${formatStamp(req.seen)}, ${aheadOf(req.seen, this.ports.nowMs())} ms ahead of ` +
        `${name}'s clock, beyond max_clock_skew_ms (${config.maxClockSkewMs}): ${name} cannot stamp after it. A clock ran fast where that ` +
        `stamp was made, or ${name}'s is behind (check NTP)`);
    }
    const need = requiredAcks(req.level, config.replicationFactor);
    if (!need.ok) return fail('InvalidRequest', `InvalidRequest: ${need.reason}`);
    const valueBytes = req.t === 'put' ? utf8Bytes(req.value) : 0;
    if (valueBytes > config.valueBytesMax) {
      return fail('InvalidRequest', `InvalidRequest: value is ${valueBytes} bytes, over the limit of ${config.valueBytesMax}`);
    }
    // While slots move a write goes to old and new replicas, so the room asked for is its write set's.
    const placed = ring.forKey(req.key);
    if (this.ops.size >= clientRequestsInFlightMax || !requests.hasRoom(req.t === 'get' ? placed.read.length : placed.write.to.length)) {
      return fail('Overloaded', `Overloaded: ${name} holds ${this.ops.size} client requests in flight (limit ${clientRequestsInFlightMax})`);
    }
    if (!this.answered.hasRoom(this.ports.nowMs(), this.ops.size + 1)) {
      // Not cached: there is no room, and a retransmission may well find some.
      return this.ports.reply(client, { t: 'fail', id: req.id, error: 'Overloaded',
        message: `Overloaded: ${name} keeps ${this.answered.size} answers until their requests' deadlines (limit ${dedupEntriesMax})` });
    }
    if (req.t !== 'get' && !this.ports.logWritable()) {
      // Its hints (and its own copy) could not be made durable: a crash would lose them, and with
      // them the only way the replicas that missed the write would get it.
      return fail('Unavailable', `Unavailable: ${name}'s disk is full, so it coordinates no writes until it has room again (use another coordinator)`);
    }
    const replicas = req.t === 'get' ? placed.read : placed.write.to;
    const short = this.unmetGroups(req.key, req.t === 'get' ? [placed.read] : placed.write.groups, need.acks);
    trace?.add('replicas', this.nowUs(), { nodes: [...replicas], down: replicas.filter((r) => !this.ports.isUp(r)) });
    if (short !== null) return fail('Unavailable', `Unavailable: ${req.level} needs ${short}`);
    if (req.t === 'get') this.startRead(client, opKey, req, need.acks, placed.read, trace);
    else this.startWrite(client, opKey, req, need.acks, placed, trace);
  }

  /**
   * Null when every group has `acks` live replicas, else what is missing: "2 of 3 replicas of key
   * 128, 1 alive (replica-3, replica-4 down)". While slots move a write has two groups (the old and
   * the new replicas) and each must meet the level on its own (ring/acks.ts), so each is named.
   */
  private unmetGroups(key: Key, groups: readonly (readonly NodeIndex[])[], acks: number): string | null {
    const short: string[] = [];
    for (const group of groups) {
      let alive = 0;
      for (const r of group) if (this.ports.isUp(r)) alive++;
      if (alive >= acks) continue;
      const down = group.filter((r) => !this.ports.isUp(r)).map((r) => this.ports.nameOf(r)).join(', ');
      const of = groups.length === 1 ? `${group.length} replicas` : `{${group.map((r) => this.ports.nameOf(r)).join(', ')}}`;
      short.push(`${acks} of ${of} of key ${key}, ${alive} alive (${down} down)`);
    }
    return short.length === 0 ? null : short.join(' and ');
  }

  /**
   * A request that knows its age is started only within its life (its deadline is checked first,
   * in request). One claiming to come from further in the future than max_clock_skew_ms, or asking
   * for a life over clientDeadlineMsMax (the window the answers cache covers), is refused
   * (ClockSkew, within the notice budget; InvalidRequest), uncached: the same datagram is refused the same way again.
   */
  private admitAge(client: Address, req: CoordinatedRequest): boolean {
    const { config, name } = this.ports;
    const now = this.ports.nowMs();
    const refuse = (reason: string, message: string) => {
      this.ports.countDrop(reason);
      this.ports.reply(client, { t: 'fail', id: req.id, error: 'InvalidRequest', message: `InvalidRequest: ${message}` });
      return false;
    };
    const lifeMs = req.deadlineMs - req.sentAtMs;
    if (lifeMs < 0 || lifeMs > clientDeadlineMsMax) {
      return refuse('bad-deadline', `deadline ${lifeMs} ms after the request was sent, outside 0..${clientDeadlineMsMax} ms`);
    }
    if (req.sentAtMs > now + config.maxClockSkewMs) {
      this.refuseDated(client, req, 'future', `sent at ${req.sentAtMs}, ${req.sentAtMs - now} ms ahead of ${name}'s clock (max_clock_skew_ms ${config.maxClockSkewMs})`);
      return false;
    }
    return true;
  }

  /**
   * A request dated outside this clock's window (expired, or sent further ahead than
   * max_clock_skew_ms): refused, never started, answered ClockSkew with this clock (so its client
   * can tell by how much the two disagree), uncached, at most as often as the notice budget allows
   * (notice-limiter.ts). Counted as `expired` / `clock-skew`, or `…-limited` when not answered.
   */
  private refuseDated(client: Address, req: CoordinatedRequest, dated: 'expired' | 'future', why: string): void {
    const reason = dated === 'expired' ? 'expired' : 'clock-skew';
    const now = this.ports.nowMs();
    if (!this.notices.take(client, now)) return this.ports.countDrop(`${reason}-limited`);
    this.ports.countDrop(reason);
    this.ports.reply(client, {
      t: 'fail', id: req.id, error: 'ClockSkew', dated, clockMs: now,
      message: `ClockSkew: ${this.ports.name} refused this ${req.t} as ${dated === 'expired' ? 'expired' : 'future-dated'} by its clock (${now}): ${why}; ` +
        `check the clocks (NTP) of the client and of ${this.ports.name}`,
    });
  }

  /**
   * A request seen before (same id and sent time) from another address is a replay from a forged
   * source, or, far less likely, another client that picked the same id in the same ms: refused
   * unanswered either way, so it is neither run again nor given someone else's answer.
   */
  private sameClient(first: Address, now: Address): boolean {
    if (first === now) return true;
    this.ports.countDrop('replayed');
    return false;
  }

  /**
   * Moves this clock past the newest stamp the client has seen, so what it does next is ordered
   * after what it saw (its own earlier writes above all), unless that stamp is beyond the bound.
   */
  private orderAfterSeen(seen: Stamp): boolean {
    return this.hlc.observeWithin(seen, this.ports.nowMs(), this.ports.config.maxClockSkewMs) === null;
  }

  /** Times out the requests past their deadline. */
  tick(): void {
    const now = this.ports.nowMs();
    this.answered.sweep(now);
    for (const op of [...this.ops.values()]) if (now >= op.deadlineMs) this.expire(op);
  }

  /** Peers first, this node last: the peers' sends leave before its own record is durable (see outbox.ts). */
  private peersFirst(replicas: readonly NodeIndex[]): NodeIndex[] {
    const self = this.ports.self;
    return [...replicas.filter((r) => r !== self), ...replicas.filter((r) => r === self)];
  }

  // ---- put and del -------------------------------------------------------------------------------

  private startWrite(client: Address, opKey: string, req: PutRequest | DelRequest, required: number, placed: SlotPlacement, trace: Trace | null): void {
    const { ports } = this;
    const now = ports.nowMs();
    const stamp = this.hlc.now(ports.clockMs());
    const value = req.t === 'put' ? req.value : null;
    const op: WriteOp = {
      kind: 'write', client, clientId: req.id, opKey, clientDeadlineMs: req.deadlineMs, key: req.key, level: req.level, value, stamp,
      required, placed, replicas: placed.write.to, sentTo: new Set(), acked: new Set(), answered: false, deadlineMs: now + ports.config.writeTimeoutMs, startedMs: now, trace,
    };
    this.ops.set(opKey, op);
    trace?.add('stamped', this.nowUs(), { stamp });
    for (const r of this.peersFirst(placed.write.to)) {
      if (!ports.isUp(r)) {
        if (this.handoff.store(r, req.key, value, stamp)) trace?.add('hint', this.nowUs(), { peer: r, why: 'down' });
        continue;
      }
      const msg = ports.requests.register(r, (id) => ({ t: 'rw', from: ports.self, gen: ports.generation, id, key: req.key, value, stamp }),
        now, op.deadlineMs, r !== ports.self, (reply) => this.onWriteAck(opKey, op, r, reply), undefined, this.onResend(op, r));
      op.sentTo.add(r);
      this.traceSent(op.trace, msg, r, 'write');
      ports.sendPeer(r, msg);
    }
  }

  private onWriteAck(opKey: string, op: WriteOp, replica: NodeIndex, reply: PeerReply): void {
    op.acked.add(replica);
    if (op.trace !== null) this.traceReply(op.trace, 'ack', replica, reply, { m: op.acked.size });
    if (!op.answered && writeSatisfied(op.level, this.ports.config.replicationFactor, op.placed.write, op.acked)) {
      op.answered = true;
      const t = op.value === null ? 'del.ok' : 'put.ok';
      this.conclude(op, { t, id: op.clientId, key: op.key, stamp: op.stamp, coordinator: this.ports.name }, 'answered',
        { n: op.acked.size, m: op.required, why: 'write' });
    }
    if (op.acked.size === op.sentTo.size) this.ops.delete(opKey); // every replica written; none needs a hint
  }

  // ---- get and read repair -----------------------------------------------------------------------

  private startRead(client: Address, opKey: string, req: GetRequest, required: number, read: readonly NodeIndex[], trace: Trace | null): void {
    const { ports } = this;
    const now = ports.nowMs();
    const asked = read.filter((r) => ports.isUp(r));
    const op: ReadOp = {
      kind: 'read', client, clientId: req.id, opKey, clientDeadlineMs: req.deadlineMs, key: req.key, level: req.level, required, read, asked, replies: new Map(),
      answered: false, deadlineMs: now + ports.config.readTimeoutMs, blockingRepair: null, answer: null, repaired: new Set(), finished: false,
      startedMs: now, trace,
    };
    this.ops.set(opKey, op);
    for (const r of this.peersFirst(asked)) {
      const msg = ports.requests.register(r, (id) => ({ t: 'rr', from: ports.self, gen: ports.generation, id, key: req.key }),
        now, op.deadlineMs, r !== ports.self, (reply) => {
          if (reply.t !== 'rr.ok') return;
          if (op.trace !== null) this.traceReply(op.trace, 'read-reply', r, reply, { stamp: reply.stamp });
          this.onReadReply(opKey, op, r, reply.stamp === null ? null : { value: reply.value, stamp: reply.stamp });
        }, undefined, this.onResend(op, r));
      this.traceSent(op.trace, msg, r, 'read');
      ports.sendPeer(r, msg);
    }
  }

  private onReadReply(opKey: string, op: ReadOp, replica: NodeIndex, version: Versioned | null): void {
    op.replies.set(replica, version);
    if (!op.answered && op.blockingRepair === null && readSatisfied(op.level, this.ports.config.replicationFactor, op.read, op.replies)) {
      const newest = newestOf(op.replies.values());
      op.answer = newest;
      const stale = newest === null ? [] : [...op.replies].filter(([, v]) => isOlder(v, newest)).map(([r]) => r);
      if (op.trace !== null && newest !== null) for (const r of stale) op.trace.add('stale', this.nowUs(), { peer: r, old: op.replies.get(r)?.stamp ?? null, stamp: newest.stamp });
      if (this.readRepairing && this.ports.config.readRepairBlocking && op.required > 1 && stale.length > 0 && newest !== null) {
        // Cassandra 4's blocking read repair: the replicas read get the newest version before the
        // answer leaves, so a later read at this level never sees an older one.
        op.blockingRepair = new Set(stale);
        this.ports.log('info', 'read-repair', `read repair of key ${op.key} (blocking, before answering): ` +
          `${stale.map((r) => this.ports.nameOf(r)).join(', ')} given ${formatStamp(newest.stamp)}`);
        for (const r of stale) this.repair(op, r, newest, () => {
          op.blockingRepair?.delete(r);
          if (op.blockingRepair?.size !== 0 || op.answered || !this.ops.has(opKey)) return;
          this.answerRead(opKey, op);
          if (op.finished) this.ops.delete(opKey);
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
    this.conclude(op, { t: 'get.ok', id: op.clientId, key: op.key, value: v?.value ?? null, stamp: v?.stamp ?? null, coordinator: this.ports.name },
      'answered', { n: op.replies.size, m: op.required, why: 'read' });
  }

  /** Every reply is in (or the deadline passed): background read repair of the rest. */
  private finishRead(opKey: string, op: ReadOp): void {
    op.finished = true;
    const newest = newestOf(op.replies.values());
    if (this.readRepairing && newest !== null) {
      const stale = op.asked.filter((r) => !op.repaired.has(r) && (!op.replies.has(r) || isOlder(op.replies.get(r)!, newest)));
      for (const r of stale) this.repair(op, r, newest, null);
      if (stale.length > 0) {
        this.ports.log('info', 'read-repair', `read repair of key ${op.key}: ${stale.map((r) => this.ports.nameOf(r)).join(', ')} ` +
          `given ${formatStamp(newest.stamp)}`);
      }
    }
    if (op.answered) this.ops.delete(opKey);
  }

  private repair(op: ReadOp, replica: NodeIndex, newest: Versioned, then: (() => void) | null): void {
    const { ports } = this;
    op.repaired.add(replica);
    if (!ports.requests.hasRoom()) return;
    const now = ports.nowMs();
    const msg = ports.requests.register(replica, (id) => ({ t: 'rw', from: ports.self, gen: ports.generation, id, key: op.key, value: newest.value, stamp: newest.stamp }),
      now, now + ports.config.writeTimeoutMs, replica !== ports.self, (reply) => {
        if (op.trace !== null) this.traceReply(op.trace, 'repair-ack', replica, reply, {});
        then?.();
      }, undefined, this.onResend(op, replica));
    this.traceSent(op.trace, msg, replica, 'read-repair');
    ports.sendPeer(replica, msg);
  }

  // ---- deadlines and answers ---------------------------------------------------------------------

  private expire(op: ClientOp): void {
    const { config, self } = this.ports;
    const opKey = op.opKey;
    this.ops.delete(opKey);
    if (op.kind === 'write') {
      for (const r of op.replicas) {
        if (!op.acked.has(r) && r !== self && this.handoff.store(r, op.key, op.value, op.stamp) && op.sentTo.has(r)) op.trace?.add('hint', this.nowUs(), { peer: r, why: 'no-ack' });
      }
      if (!op.answered) {
        this.conclude(op, {
          t: 'fail', id: op.clientId, error: 'Timeout', acks: op.acked.size, required: op.required,
          message: `Timeout: ${op.acked.size} of ${op.required} acks for ${op.value === null ? 'del' : 'put'} of key ${op.key} at ${op.level} ` +
            `within ${config.writeTimeoutMs} ms (the ${op.value === null ? 'delete' : 'write'} may still land)`,
        }, 'timeout', { n: op.acked.size, m: op.required, why: 'write', nodes: [...op.acked] });
      }
    } else {
      if (!op.answered) {
        this.conclude(op, {
          t: 'fail', id: op.clientId, error: 'Timeout', acks: Math.min(op.replies.size, op.required), required: op.required,
          message: `Timeout: ${op.replies.size} of ${op.required} replies for get of key ${op.key} at ${op.level} within ${config.readTimeoutMs} ms` +
            `${op.blockingRepair !== null ? ` (blocking read repair of ${op.blockingRepair.size} replicas unfinished)` : ''}`,
        }, 'timeout', { n: op.replies.size, m: op.required, why: 'read', nodes: [...op.replies.keys()] });
      }
      op.answered = true;
      if (!op.finished) this.finishRead(opKey, op);
    }
  }

  /**
   * Answers an op: with its trace when traced (ending with the decision, after the replicas it did
   * not wait for), and into the slow-request log when it took slow_request_ms or more.
   */
  private conclude(op: ClientOp, reply: ClientReply, decision: TraceKind, fields: Parameters<Trace['add']>[2]): void {
    const trace = op.trace;
    const durationMs = this.ports.nowMs() - op.startedMs;
    if (trace !== null || (this.tracing.slowRequestMs > 0 && durationMs >= this.tracing.slowRequestMs)) {
      const nowUs = this.nowUs();
      const outstanding = trace === null || decision !== 'answered' ? []
        : op.kind === 'write' ? [...op.sentTo].filter((r) => !op.acked.has(r)) : op.asked.filter((r) => !op.replies.has(r));
      if (outstanding.length > 0) trace?.add('waiting', nowUs, { nodes: outstanding });
      const report = trace?.report(decision, nowUs, fields) ?? null;
      // A sampled trace stays here (state shows it); only a client that asked gets one.
      if (report !== null && !report.sampled && (reply.t === 'get.ok' || reply.t === 'put.ok' || reply.t === 'del.ok' || reply.t === 'fail')) reply.trace = report;
      op.trace = null; // what happens after the answer is not part of it
      const outcome = activityText({ kind: decision, src: this.ports.self, atUs: nowUs, elapsedUs: 0, ...fields }, this.ports.nameOf);
      const opName = op.kind === 'read' ? 'get' : op.value === null ? 'del' : 'put';
      this.tracing.finished({ op: opName, key: op.key, level: op.level, atMs: this.ports.nowMs(), durationMs, outcome, trace: report });
    }
    this.answer(op.client, op.clientId, reply, op.opKey, op.clientDeadlineMs);
  }

  private nowUs(): number {
    return toUs(this.ports.clockMs());
  }

  /** A traced op's message carries the flag (the replica sends its steps back) and is recorded with why it was sent. */
  private traceSent(trace: Trace | null, msg: PeerRequest, to: NodeIndex, why: 'write' | 'read' | 'read-repair'): void {
    if (trace === null) return;
    if (msg.t === 'rw' || msg.t === 'rr') msg.trace = true;
    trace.sent(to, why, this.nowUs());
  }

  /** A reply to a traced op: the replica's own steps, then its arrival here with its latency on this clock. */
  private traceReply(trace: Trace, kind: 'ack' | 'read-reply' | 'repair-ack', from: NodeIndex, reply: PeerReply, fields: Parameters<Trace['add']>[2]): void {
    const nowUs = this.nowUs();
    trace.replicaSteps(reply.t === 'rw.ok' || reply.t === 'rr.ok' ? reply.trace : undefined);
    trace.add(kind, nowUs, { peer: from, n: trace.latencyUs(from, nowUs), ...fields });
  }

  /** Retransmissions of a traced op's messages are steps too; untraced, none is watched. */
  private onResend(op: ClientOp, to: NodeIndex): ((attempt: number) => void) | undefined {
    if (op.trace === null) return undefined;
    return (attempt) => op.trace?.add('resent', this.nowUs(), { peer: to, n: attempt });
  }

  /**
   * Answers a request. A put's or del's answer is remembered, so a retransmission is answered again
   * and never stamped and written twice; a get is idempotent and its answer (with its value) is not kept.
   */
  private answer(client: Address, id: number, reply: ClientReply, opKey: string, keepUntilMs: number): void {
    if (reply.t !== 'get.ok') this.answered.set(opKey, { client, reply }, keepUntilMs);
    this.ports.reply(client, reply);
  }
}

/**
 * A client request's identity: its id and sent time, both sealed with it, and not the address it
 * came from, so the same datagram replayed from another address is still recognised (sameClient).
 */
function clientOpKey(req: CoordinatedRequest): string {
  return `${req.id}|${req.sentAtMs}`;
}

function newestOf(versions: Iterable<Versioned | null>): Versioned | null {
  let newest: Versioned | null = null;
  for (const v of versions) if (v !== null && (newest === null || compareStamps(v.stamp, newest.stamp) > 0)) newest = v;
  return newest;
}

function isOlder(v: Versioned | null, than: Versioned): boolean {
  return v === null || compareStamps(v.stamp, than.stamp) < 0;
}
