// The coordinator's side of a client's get or put: strict-quorum admission, the fan-out to every
// replica of the key, the answer after `level` acks, timeouts (with hints for replicas that missed
// a write) and read repair. One ClientOp per request in flight.
import type { HintedHandoff } from './handoff.js';
import { aheadOf, compareStamps, formatStamp, type Hlc } from './hlc.js';
import { clientRequestsInFlightMax, dedupEntriesMax } from './limits.js';
import { BoundedMap } from './lru.js';
import { utf8Bytes, type ClientReply, type GetRequest, type PutRequest } from './messages.js';
import type { NodePorts } from './ports.js';
import { requiredAcks } from './quorum.js';
import type { Address, ClientError, Key, Level, NodeIndex, Stamp, Versioned } from './types.js';

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

export class Coordinator {
  private readonly ops = new Map<string, ClientOp>();
  /** Answers to puts, so a retransmitted put is answered again and never stamped and written twice. */
  private readonly answered = new BoundedMap<string, ClientReply>(dedupEntriesMax);

  constructor(
    private readonly ports: NodePorts,
    private readonly hlc: Hlc,
    private readonly handoff: HintedHandoff,
    private readonly readRepairing: boolean,
  ) {}

  get inFlight(): number {
    return this.ops.size;
  }

  request(client: Address, req: GetRequest | PutRequest): void {
    const { config, ring, requests, name } = this.ports;
    const opKey = `${client}|${req.id}`;
    if (this.ops.has(opKey)) return; // a retransmission of a request still in progress
    const done = this.answered.get(opKey);
    if (done !== undefined) return this.ports.reply(client, done);

    const fail = (error: ClientError, message: string) => this.answer(client, req.id, { t: 'fail', id: req.id, error, message });
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
    if (this.ops.size >= clientRequestsInFlightMax || !requests.hasRoom(config.replicationFactor)) {
      return fail('Overloaded', `Overloaded: ${name} holds ${this.ops.size} client requests in flight (limit ${clientRequestsInFlightMax})`);
    }
    const replicas = ring.replicasFor(req.key);
    const down = replicas.filter((r) => !this.ports.isUp(r));
    const alive = replicas.length - down.length;
    if (alive < need.acks) {
      return fail('Unavailable', `Unavailable: ${req.level} needs ${need.acks} of ${replicas.length} replicas of key ${req.key}, ` +
        `${alive} alive (${down.map((r) => this.ports.nameOf(r)).join(', ')} down)`);
    }
    if (req.t === 'put') this.startWrite(client, opKey, req, need.acks, replicas);
    else this.startRead(client, opKey, req, need.acks, replicas);
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
    for (const op of [...this.ops.values()]) if (now >= op.deadlineMs) this.expire(op);
  }

  /** Peers first, this node last: the peers' sends leave before its own record is durable (see outbox.ts). */
  private peersFirst(replicas: readonly NodeIndex[]): NodeIndex[] {
    const self = this.ports.self;
    return [...replicas.filter((r) => r !== self), ...replicas.filter((r) => r === self)];
  }

  // ---- put ---------------------------------------------------------------------------------------

  private startWrite(client: Address, opKey: string, req: PutRequest, required: number, replicas: readonly NodeIndex[]): void {
    const { ports } = this;
    const now = ports.nowMs();
    const stamp = this.hlc.now(now);
    const op: WriteOp = {
      kind: 'write', client, clientId: req.id, key: req.key, level: req.level, value: req.value, stamp,
      required, replicas, sentTo: new Set(), acked: new Set(), answered: false, deadlineMs: now + ports.config.writeTimeoutMs,
    };
    this.ops.set(opKey, op);
    for (const r of this.peersFirst(replicas)) {
      if (!ports.isUp(r)) { this.handoff.store(r, req.key, req.value, stamp); continue; }
      const msg = ports.requests.register(r, (id) => ({ t: 'rw', from: ports.self, gen: ports.generation, id, key: req.key, value: req.value, stamp }),
        now, op.deadlineMs, r !== ports.self, () => this.onWriteAck(opKey, op, r));
      op.sentTo.add(r);
      ports.sendPeer(r, msg);
    }
  }

  private onWriteAck(opKey: string, op: WriteOp, replica: NodeIndex): void {
    op.acked.add(replica);
    if (!op.answered && op.acked.size >= op.required) {
      op.answered = true;
      this.answer(op.client, op.clientId, { t: 'put.ok', id: op.clientId, key: op.key, stamp: op.stamp, coordinator: this.ports.name }, opKey);
    }
    if (op.acked.size === op.sentTo.size) this.ops.delete(opKey); // every replica written; none needs a hint
  }

  // ---- get and read repair -----------------------------------------------------------------------

  private startRead(client: Address, opKey: string, req: GetRequest, required: number, replicas: readonly NodeIndex[]): void {
    const { ports } = this;
    const now = ports.nowMs();
    const asked = replicas.filter((r) => ports.isUp(r));
    const op: ReadOp = {
      kind: 'read', client, clientId: req.id, key: req.key, level: req.level, required, asked, replies: new Map(),
      answered: false, deadlineMs: now + ports.config.readTimeoutMs, blockingRepair: null, answer: null, repaired: new Set(), finished: false,
    };
    this.ops.set(opKey, op);
    for (const r of this.peersFirst(asked)) {
      const msg = ports.requests.register(r, (id) => ({ t: 'rr', from: ports.self, gen: ports.generation, id, key: req.key }),
        now, op.deadlineMs, r !== ports.self, (reply) => {
          if (reply.t !== 'rr.ok') return;
          this.onReadReply(opKey, op, r, reply.value === null || reply.stamp === null ? null : { value: reply.value, stamp: reply.stamp });
        });
      ports.sendPeer(r, msg);
    }
  }

  private onReadReply(opKey: string, op: ReadOp, replica: NodeIndex, version: Versioned | null): void {
    op.replies.set(replica, version);
    if (!op.answered && op.blockingRepair === null && op.replies.size >= op.required) {
      const newest = newestOf(op.replies.values());
      op.answer = newest;
      const stale = newest === null ? [] : [...op.replies].filter(([, v]) => isOlder(v, newest)).map(([r]) => r);
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
    this.answer(op.client, op.clientId, { t: 'get.ok', id: op.clientId, key: op.key, value: v?.value ?? null, stamp: v?.stamp ?? null, coordinator: this.ports.name }, opKey);
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
      now, now + ports.config.writeTimeoutMs, replica !== ports.self, () => then?.());
    ports.sendPeer(replica, msg);
  }

  // ---- deadlines and answers ---------------------------------------------------------------------

  private expire(op: ClientOp): void {
    const { config, self } = this.ports;
    const opKey = `${op.client}|${op.clientId}`;
    this.ops.delete(opKey);
    if (op.kind === 'write') {
      for (const r of op.replicas) if (!op.acked.has(r) && r !== self) this.handoff.store(r, op.key, op.value, op.stamp);
      if (!op.answered) {
        this.answer(op.client, op.clientId, {
          t: 'fail', id: op.clientId, error: 'Timeout', acks: op.acked.size, required: op.required,
          message: `Timeout: ${op.acked.size} of ${op.required} acks for put of key ${op.key} at ${op.level} within ${config.writeTimeoutMs} ms (the write may still land)`,
        }, opKey);
      }
    } else {
      if (!op.answered) {
        this.answer(op.client, op.clientId, {
          t: 'fail', id: op.clientId, error: 'Timeout', acks: Math.min(op.replies.size, op.required), required: op.required,
          message: `Timeout: ${op.replies.size} of ${op.required} replies for get of key ${op.key} at ${op.level} within ${config.readTimeoutMs} ms` +
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
    if (reply.t !== 'get.ok') this.answered.set(opKey, reply);
    this.ports.reply(client, reply);
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
