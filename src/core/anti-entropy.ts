// Anti-entropy: replicas converge by themselves, whatever was lost on the way (a hint holder that
// died, expired hints, a write nobody reads again). Every anti_entropy_interval_ms, and at once for
// `kvc repair`, a replica runs a round with each peer it shares keys with:
//
//   1. digests   -> peer   one crc32 of (key, stamp) per block of 16 keys the two hold in common
//   2. ae.ok     <- peer   the blocks that differ, and the peer's [key, stamp, bytes] in them
//   3. hints     -> peer   the versions this replica holds newer (the hint-batch path: logged, fsynced, acked)
//      ae.pull   -> peer   the keys the peer holds newer; their versions come back in the reply
//                          and are written here through the same durable replica-write path
//
// Replicas that agree exchange one small datagram each way per peer per round. Everything is
// last-write-wins on stamps, tombstones included, so a round can only move a replica forward.
import { aheadOf, compareStamps } from './hlc.js';
import { crc32 } from './crc32.js';
import {
  antiEntropyBlockKeys, antiEntropyRoundsInFlightMax, hintBatchBytesMax, hintEntryOverheadBytes, keyMax, keyMin, repairRequestsInFlightMax,
} from './limits.js';
import { compareKeys } from './keyspace.js';
import {
  keyBytes, utf8Bytes, versionBytes, type AntiEntropyReport, type DigestReply, type DigestRequest, type PeerReply, type PeerRequest, type PullReply, type PullRequest,
  type RepairPeerResult,
} from './messages.js';
import { summarizeKeys, type NodePorts } from './ports.js';
import type { Slot } from './keyspace.js';
import type { Random } from './prng.js';
import type { ClusterConfig, Key, NodeIndex, Stamp, StoredValue, Versioned } from './types.js';

/** The replica's own data, as anti-entropy needs it. */
export interface ReplicaData {
  read(key: Key): Versioned | undefined;
  /** The keys held on a slot, tombstones included. */
  keysIn(slot: Slot): Iterable<Key>;
  /** Makes the versions durable where newer than what is held; `done` gets the keys that were newer, once they are durable. */
  writeLocal(writes: readonly (readonly [Key, StoredValue, Stamp])[], done: (fresh: Key[]) => void): void;
}

interface Round {
  readonly peer: NodeIndex;
  /** Requests of this round still waiting for their answer (and, for pulls, for their records to be durable). */
  outstanding: number;
  reached: boolean;
  sentKeys: Key[];
  receivedKeys: Key[];
  error: string | null;
  readonly periodic: boolean;
  readonly onDone: ((r: RepairPeerResult) => void) | null;
}

export class AntiEntropy {
  /** Per peer: the slots both replicas hold, ascending; empty for this node and for peers it shares nothing with. */
  private readonly shared: Slot[][];
  /** The same slots per peer by block of antiEntropyBlockKeys, only blocks holding some: fixed by the ring, so made once. */
  private readonly sharedByBlock: Map<number, Slot[]>[];
  private readonly stats: AntiEntropyReport[];
  private readonly periodicRunning = new Set<NodeIndex>();
  private roundsInFlight = 0;
  private repairsInFlight = 0;
  private nextRoundMs = Infinity;

  constructor(private readonly ports: NodePorts, private readonly data: ReplicaData, private readonly random: Random) {
    const { ring, self } = ports;
    this.shared = Array.from({ length: ring.nodeCount }, (_, peer) => {
      if (peer === self) return [];
      const slots: Slot[] = [];
      for (let slot = keyMin; slot <= keyMax; slot++) if (ring.holdsSlot(self, slot) && ring.holdsSlot(peer, slot)) slots.push(slot);
      return slots;
    });
    this.sharedByBlock = this.shared.map((keys) => {
      const byBlock = new Map<number, Slot[]>();
      for (const key of keys) {
        const block = Math.floor((key - keyMin) / antiEntropyBlockKeys);
        byBlock.set(block, [...(byBlock.get(block) ?? []), key]);
      }
      return byBlock;
    });
    this.stats = this.shared.map(() => ({ rounds: 0, lastRoundMs: null, keysSent: 0, keysReceived: 0 }));
  }

  get enabled(): boolean {
    return this.ports.config.antiEntropyIntervalMs > 0;
  }

  /** The first periodic round comes within one interval, at a point drawn so that replicas spread theirs out. */
  start(): void {
    if (this.enabled) this.nextRoundMs = this.ports.nowMs() + Math.round(this.ports.config.antiEntropyIntervalMs * (0.5 + 0.5 * this.random()));
  }

  tick(): void {
    const now = this.ports.nowMs();
    if (now < this.nextRoundMs) return;
    this.nextRoundMs = now + this.ports.config.antiEntropyIntervalMs;
    for (const peer of this.peers()) {
      if (!this.ports.isUp(peer) || this.periodicRunning.has(peer) || this.roundsInFlight >= antiEntropyRoundsInFlightMax) continue;
      this.periodicRunning.add(peer);
      this.startRound(peer, true, null);
    }
  }

  /** The peers this replica shares keys with. */
  peers(): NodeIndex[] {
    return this.shared.flatMap((keys, peer) => (keys.length > 0 ? [peer] : []));
  }

  report(peer: NodeIndex): AntiEntropyReport {
    const s = this.stats[peer];
    return s === undefined ? { rounds: 0, lastRoundMs: null, keysSent: 0, keysReceived: 0 } : { ...s };
  }

  /**
   * `kvc repair`: a round with every peer at once; `done` gets one result per peer once all have
   * finished. A peer the failure detector holds DOWN is not waited for. Returns false (and calls
   * nothing) when too many repairs are already running.
   */
  /** `onPeer`: each peer's result as its round ends (a traced repair records them). */
  repairAll(done: (results: RepairPeerResult[]) => void, onPeer?: (result: RepairPeerResult) => void): boolean {
    const peers = this.peers();
    if (this.repairsInFlight >= repairRequestsInFlightMax || this.roundsInFlight + peers.length > antiEntropyRoundsInFlightMax) return false;
    const results: RepairPeerResult[] = [];
    let waiting = peers.length;
    this.repairsInFlight++;
    const finish = () => {
      this.repairsInFlight--;
      done(peers.map((p) => results.find((r) => r.name === this.ports.nameOf(p))!));
    };
    if (waiting === 0) { finish(); return true; }
    for (const peer of peers) {
      const collect = (r: RepairPeerResult) => { results.push(r); onPeer?.(r); if (--waiting === 0) finish(); };
      if (!this.ports.isUp(peer)) {
        collect({ name: this.ports.nameOf(peer), reached: false, sent: 0, received: 0, error: `DOWN (silent for over ${this.ports.config.downAfterMs} ms, or its config or clock refused)` });
      } else {
        this.startRound(peer, false, collect);
      }
    }
    return true;
  }

  // ---- initiator ---------------------------------------------------------------------------------

  private startRound(peer: NodeIndex, periodic: boolean, onDone: ((r: RepairPeerResult) => void) | null): void {
    const round: Round = { peer, outstanding: 1, reached: false, sentKeys: [], receivedKeys: [], error: null, periodic, onDone };
    this.roundsInFlight++;
    this.askDigests(round, [...this.sharedByBlock[peer]!.keys()], undefined);
    this.settle(round); // the opening step: from here on, the round ends when its last request does
  }

  /** Step 1 (and each further page of it): the digests of these blocks; versions after `after` only, when given. */
  private askDigests(round: Round, blocks: readonly number[], after: Key | undefined): void {
    const { ports } = this;
    const digests: [number, number][] = blocks.map((b) => [b, this.digest(round.peer, b)]);
    const build = (id: number): DigestRequest => ({ t: 'ae', from: ports.self, gen: ports.generation, id, digests, ...(after === undefined ? {} : { after }) });
    this.send(round, build, ports.config.readTimeoutMs, (reply) => {
      if (reply.t !== 'ae.ok') return;
      round.reached = true;
      this.compare(round, reply, after);
    });
  }

  /**
   * The peer's stamps for the differing blocks against this replica's: push what is newer here,
   * pull what is newer there. A reply with `more` covers the keys up to its last version; the
   * next page is asked for at once, so a round goes through every differing block whatever the
   * number of keys, one datagram of stamps at a time.
   */
  private compare(round: Round, reply: DigestReply, after: Key | undefined): void {
    const { peer } = round;
    const theirs = new Map<Key, { stamp: Stamp; bytes: number }>();
    const blocks = reply.blocks.filter((b) => this.sharedByBlock[peer]!.has(b));
    const last = reply.more === true ? reply.versions[reply.versions.length - 1]![0] : undefined;
    const covered = (key: Key) => blocks.includes(this.blockOf(key)) && this.sharedSlot(peer, key) &&
      (after === undefined || this.comparePositions(key, after) > 0) && (last === undefined || this.comparePositions(key, last) <= 0);
    for (const [key, stamp, bytes] of reply.versions) if (covered(key)) theirs.set(key, { stamp, bytes });
    const push: Key[] = [];
    const pull: { key: Key; bytes: number }[] = [];
    const mineListed = this.keysIn(peer, blocks).filter(covered);
    for (const key of mineListed) {
      const mine = this.data.read(key)!;
      const their = theirs.get(key);
      const order = their === undefined ? 1 : compareStamps(mine.stamp, their.stamp);
      if (order > 0) push.push(key);
      else if (order < 0) pull.push({ key, bytes: their!.bytes + hintEntryOverheadBytes + keyBytes(key) });
      theirs.delete(key);
    }
    for (const [key, their] of theirs) pull.push({ key, bytes: their.bytes + hintEntryOverheadBytes + keyBytes(key) }); // held there only
    this.push(round, push);
    this.pull(round, pull);
    if (last !== undefined) this.askDigests(round, blocks.filter((b) => b >= this.blockOf(last)), last);
  }

  private push(round: Round, keys: Key[]): void {
    const { ports } = this;
    const entries = keys.map((key): [Key, StoredValue, Stamp] => {
      const v = this.data.read(key)!;
      return [key, v.value, v.stamp];
    });
    for (const batch of batches(entries, (e) => versionBytes(e[1], e[0]))) {
      this.send(round, (id) => ({ t: 'hints', from: ports.self, gen: ports.generation, id, writes: batch }), 2 * ports.config.writeTimeoutMs, (reply) => {
        if (reply.t === 'hints.ok') round.sentKeys.push(...batch.map((w) => w[0]));
      });
    }
  }

  private pull(round: Round, wanted: { key: Key; bytes: number }[]): void {
    const { ports } = this;
    for (const batch of batches(wanted, (w) => w.bytes)) {
      const keys = batch.map((w) => w.key);
      const asked = new Set(keys);
      this.send(round, (id): PullRequest => ({ t: 'ae.pull', from: ports.self, gen: ports.generation, id, keys }), ports.config.readTimeoutMs, (reply) => {
        if (reply.t !== 'ae.pull.ok') return;
        // Only what was asked for: a key this replica does not hold must never be stored here; nor a
        // stamp beyond the clock bound (a peer whose clock ran fast made it), like any replica write.
        const nowMs = ports.nowMs();
        const writes = reply.writes.filter(([key, , stamp]) => asked.has(key) && aheadOf(stamp, nowMs) <= ports.config.maxClockSkewMs);
        round.outstanding++; // until the pulled versions are durable here
        this.data.writeLocal(writes, (fresh) => {
          round.receivedKeys.push(...fresh);
          this.settle(round);
        });
      });
    }
  }

  /** One request of a round, retransmitted like any other; its answer (or its loss) settles one outstanding step. */
  private send(round: Round, build: (id: number) => PeerRequest, timeoutMs: number, onReply: (reply: PeerReply) => void): void {
    const { ports } = this;
    if (!ports.requests.hasRoom()) {
      round.error ??= `${ports.name} has too many requests in flight`;
      return;
    }
    round.outstanding++;
    const now = ports.nowMs();
    const msg = ports.requests.register(round.peer, build, now, now + timeoutMs, true,
      (reply) => { onReply(reply); this.settle(round); },
      () => { round.error ??= `no answer from ${ports.nameOf(round.peer)} within ${timeoutMs} ms`; this.settle(round); });
    ports.sendPeer(round.peer, msg);
  }

  /** One step of the round is over; the last one finishes it. */
  private settle(round: Round): void {
    if (--round.outstanding > 0) return;
    this.roundsInFlight--;
    if (round.periodic) this.periodicRunning.delete(round.peer);
    const { ports } = this;
    const stats = this.stats[round.peer]!;
    const sent = round.sentKeys.length;
    const received = round.receivedKeys.length;
    stats.keysSent += sent;
    stats.keysReceived += received;
    if (round.error === null) {
      stats.rounds++;
      stats.lastRoundMs = ports.nowMs();
    }
    if (sent + received > 0) {
      const what = ports.ring.keySpace.partitioner === 'byte-ordered' ? 'keys' : 'slots';
      ports.log('info', 'anti-entropy', `anti-entropy with ${ports.nameOf(round.peer)} (${what} ${describeRanges(this.shared[round.peer]!)}): ` +
        `sent ${sent}${sent > 0 ? ` (keys ${summarizeKeys(round.sentKeys)})` : ''}, received ${received}` +
        `${received > 0 ? ` (keys ${summarizeKeys(round.receivedKeys)})` : ''}${round.error !== null ? `; unfinished: ${round.error}` : ''}`);
    }
    round.onDone?.({ name: ports.nameOf(round.peer), reached: round.reached, sent, received, error: round.error });
  }

  // ---- responder (read-only: a retransmitted request is simply answered again) -------------------

  /**
   * The blocks whose digests differ and this replica's versions in them, in slot then key order,
   * as many as fit one datagram (`more` when some are left for a request `after` the last). A
   * further page (`after` given) looks at the blocks it names only.
   */
  onDigests(peer: NodeIndex, msg: DigestRequest): DigestReply {
    const theirs = new Map(msg.digests);
    const candidates = msg.after === undefined ? [...(this.sharedByBlock[peer]?.keys() ?? [])] : msg.digests.map(([b]) => b).filter((b) => this.sharedByBlock[peer]?.has(b));
    const blocks = candidates.filter((b) => theirs.get(b) !== this.digest(peer, b));
    const versions: [Key, Stamp, number][] = [];
    const reply: DigestReply = { t: 'ae.ok', from: this.ports.self, id: msg.id, blocks, versions };
    const { after } = msg;
    let bytes = 0;
    for (const key of this.keysIn(peer, blocks)) {
      if (after !== undefined && this.comparePositions(key, after) <= 0) continue;
      const entryBytes = versionListingBytes + keyBytes(key);
      if (versions.length > 0 && (bytes + entryBytes > hintBatchBytesMax || versions.length >= this.ports.ring.keySpace.versionsPerMessageMax)) {
        reply.more = true;
        break;
      }
      const v = this.data.read(key)!;
      versions.push([key, v.stamp, v.value === null ? 0 : utf8Bytes(v.value)]);
      bytes += entryBytes;
    }
    return reply;
  }

  onPull(peer: NodeIndex, msg: PullRequest): PullReply {
    const held = msg.keys.flatMap((key): [Key, StoredValue, Stamp][] => {
      const v = this.sharedSlot(peer, key) ? this.data.read(key) : undefined;
      return v === undefined ? [] : [[key, v.value, v.stamp]];
    });
    // A value may have grown since the digest reply sized this pull: what does not fit waits for the next round.
    const writes = batches(held, (e) => versionBytes(e[1], e[0]))[0] ?? [];
    return { t: 'ae.pull.ok', from: this.ports.self, id: msg.id, writes };
  }

  // ---- digests -----------------------------------------------------------------------------------

  private blockOf(key: Key): number {
    return Math.floor(this.ports.ring.slotOf(key) / antiEntropyBlockKeys);
  }

  private sharedSlot(peer: NodeIndex, key: Key): boolean {
    const { ring, self } = this.ports;
    const slot = ring.slotOf(key);
    return peer !== self && ring.holdsSlot(self, slot) && ring.holdsSlot(peer, slot);
  }

  /** Slot first, then key: the order both sides list and digest keys in. */
  private comparePositions(a: Key, b: Key): number {
    const { ring } = this.ports;
    return ring.slotOf(a) - ring.slotOf(b) || compareKeys(a, b);
  }

  /** The keys this replica holds in the slots it shares with the peer in these blocks, in slot then key order. */
  private keysIn(peer: NodeIndex, blocks: readonly number[]): Key[] {
    const out: Key[] = [];
    for (const b of blocks) {
      for (const slot of this.sharedByBlock[peer]?.get(b) ?? []) out.push(...[...this.data.keysIn(slot)].sort(compareKeys));
    }
    return out;
  }

  /** crc32 over (key, stamp) of every key this replica holds in the shared slots of the block, in slot then key order. */
  private digest(peer: NodeIndex, block: number): number {
    const keys = this.keysIn(peer, [block]);
    let bytes = new Uint8Array(Math.max(antiEntropyBlockKeys, keys.length) * stampEntryBytes);
    let at = 0;
    for (const key of keys) {
      const v = this.data.read(key)!;
      const text = typeof key === 'string' ? textEncoder.encode(key) : null;
      const need = stampEntryBytes + (text === null ? 0 : 2 + text.length - 1);
      if (at + need > bytes.length) {
        const grown = new Uint8Array(Math.max(bytes.length * 2, at + need));
        grown.set(bytes.subarray(0, at));
        bytes = grown;
      }
      const view = new DataView(bytes.buffer);
      if (text === null) {
        view.setUint8(at, (key as number) - keyMin); // byte-ordered: one byte, as it always was
        at += 1;
      } else {
        view.setUint16(at, text.length);
        bytes.set(text, at + 2);
        at += 2 + text.length;
      }
      const [wallMs, counter, node] = v.stamp;
      view.setUint32(at, Math.floor(wallMs / 2 ** 32));
      view.setUint32(at + 4, wallMs % 2 ** 32);
      view.setUint32(at + 8, counter % 2 ** 32);
      view.setUint8(at + 12, node);
      at += stampEntryBytes - 1;
    }
    return crc32(bytes, 0, at);
  }
}

const textEncoder = new TextEncoder();
/** What one [key, stamp, bytes] entry of a digest reply costs besides a text key's bytes (generous). */
const versionListingBytes = 32;

/**
 * The longest a round can take: the digest exchange, then pushes (hint batches, 2x the write
 * timeout) and pulls (the read timeout) side by side. A `kvc repair` answer comes within this.
 */
export function repairDeadlineMs(config: Pick<ClusterConfig, 'readTimeoutMs' | 'writeTimeoutMs'>): number {
  return config.readTimeoutMs + Math.max(config.readTimeoutMs, 2 * config.writeTimeoutMs);
}

/** key u8, wall ms as two u32, counter u32, node u8. */
const stampEntryBytes = 14;

/** Consecutive runs of entries whose sizes add up to at most one datagram's batch. */
function batches<T>(entries: readonly T[], size: (e: T) => number): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const e of entries) {
    const n = size(e);
    if (batch.length > 0 && bytes + n > hintBatchBytesMax) { out.push(batch); batch = []; bytes = 0; }
    batch.push(e);
    bytes += n;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** Ascending keys as ranges: "0..63, 192..255". */
export function describeRanges(keys: readonly Slot[]): string {
  const parts: string[] = [];
  for (let i = 0; i < keys.length;) {
    let j = i;
    while (j + 1 < keys.length && keys[j + 1] === keys[j]! + 1) j++;
    parts.push(i === j ? `${keys[i]}` : `${keys[i]}..${keys[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
