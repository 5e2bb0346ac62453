// Hinted handoff on a coordinator: a replica that is DOWN, or did not ack a write by its deadline,
// gets a hint in this node's own log; when it is seen UP (or restarted) its hints go out at once,
// in batches that fit a datagram, and are forgotten once acked and the "delivered" record is durable.
import { HintStore, type Hint } from './hints.js';
import { formatStamp } from './hlc.js';
import { formatKey } from './keyspace.js';
import { hintBatchBytesMax, hintBatchesInFlightPerTargetMax, hintLogIntervalMs } from './limits.js';
import { versionBytes, type HintBatch } from './messages.js';
import { summarizeKeys, type NodePorts } from './ports.js';
import { count } from './text.js';
import type { Key, NodeIndex, Stamp, StoredValue } from './types.js';

export class HintedHandoff {
  readonly hints = new HintStore();
  private readonly batchesInFlight = new Map<NodeIndex, number>();
  private readonly expired = new Map<NodeIndex, number>();
  /** Hints stored per target since its last log line: a long outage logs a summary a second, not a line a write. */
  private readonly unlogged = new Map<NodeIndex, { count: number; keys: Set<Key>; lastLogMs: number }>();
  private nextSweepMs = 0;
  private readonly lastFullLogMs = new Map<NodeIndex, number>();

  constructor(private readonly ports: NodePorts, readonly enabled: boolean) {}

  start(): void {
    this.nextSweepMs = this.ports.nowMs() + this.ports.config.hintSweepIntervalMs;
  }

  /** Hints for this target dropped past max_hint_window_ms since this node started. */
  expiredFor(target: NodeIndex): number {
    return this.expired.get(target) ?? 0;
  }

  /**
   * Holds a write for a replica that missed it (kept only if newer than its hint for the key). Past
   * the key space's hints per target (only the hashed one can get there) the write is left to
   * anti-entropy, counted with the expired hints and logged, never held beyond the bound. True when stored.
   */
  store(target: NodeIndex, key: Key, value: StoredValue, stamp: Stamp): boolean {
    if (!this.enabled || !this.hints.isNewer(target, key, stamp)) return false;
    const now = this.ports.nowMs();
    const { hintsPerTargetMax } = this.ports.ring.keySpace;
    if (this.hints.countFor(target) >= hintsPerTargetMax && !this.hints.holds(target, key)) {
      this.expired.set(target, (this.expired.get(target) ?? 0) + 1);
      if (now - (this.lastFullLogMs.get(target) ?? -Infinity) >= hintLogIntervalMs) {
        this.lastFullLogMs.set(target, now);
        this.ports.log('warn', 'hints-full', `no hint stored for ${this.ports.nameOf(target)} of key ${formatKey(key)}: it already has ${hintsPerTargetMax} ` +
          `(the limit); anti-entropy repairs what it missed (counted with its expired hints)`);
      }
      return false;
    }
    this.ports.append({ t: 'h', target, key, value, stamp, atMs: now }, null);
    const unlogged = this.unlogged.get(target) ?? { count: 0, keys: new Set<Key>(), lastLogMs: -Infinity };
    this.unlogged.set(target, unlogged);
    if (now - unlogged.lastLogMs >= hintLogIntervalMs) {
      this.ports.log('info', 'hint-stored', `hint stored for ${this.ports.nameOf(target)}: key ${formatKey(key)} (${formatStamp(stamp)})`);
      unlogged.lastLogMs = now;
    } else {
      unlogged.count++;
      unlogged.keys.add(key);
    }
    return true;
  }

  /** Sweeps (expiry, retries) when due, and logs the summaries of hints stored meanwhile. */
  tick(): void {
    const now = this.ports.nowMs();
    if (now >= this.nextSweepMs) this.sweep();
    for (const [target, unlogged] of this.unlogged) {
      if (unlogged.count === 0 || now - unlogged.lastLogMs < hintLogIntervalMs) continue;
      this.ports.log('info', 'hint-stored', `hints stored for ${this.ports.nameOf(target)}: ${count(unlogged.count, 'more write')} ` +
        `(keys ${summarizeKeys([...unlogged.keys])}); ${count(this.hints.countFor(target), 'hint')} held`);
      this.unlogged.set(target, { count: 0, keys: new Set(), lastLogMs: now });
    }
  }

  private sweep(): void {
    const { hintSweepIntervalMs, maxHintWindowMs } = this.ports.config;
    this.nextSweepMs = this.ports.nowMs() + hintSweepIntervalMs;
    for (const [target, n] of this.hints.expire(this.ports.nowMs(), maxHintWindowMs)) {
      this.expired.set(target, (this.expired.get(target) ?? 0) + n);
      this.ports.log('warn', 'hints-expired', `dropped ${count(n, 'hint')} for ${this.ports.nameOf(target)} older than ${maxHintWindowMs} ms (run a repair)`);
    }
    for (const target of this.hints.targets()) this.deliver(target);
  }

  /** Sends the target's waiting hints in batches that fit a datagram, a few batches at a time. */
  deliver(target: NodeIndex): void {
    if (!this.ports.isUp(target)) return;
    const waiting = [...this.hints.hintsFor(target)].filter((h) => !h.inFlight);
    let next = 0;
    while (next < waiting.length && (this.batchesInFlight.get(target) ?? 0) < hintBatchesInFlightPerTargetMax && this.ports.requests.hasRoom()) {
      const batch: Hint[] = [];
      let bytes = 0;
      for (; next < waiting.length; next++) {
        const hint = waiting[next]!;
        const size = versionBytes(hint.value, hint.key);
        if (batch.length > 0 && bytes + size > hintBatchBytesMax) break;
        batch.push(hint);
        bytes += size;
      }
      this.sendBatch(target, batch);
    }
  }

  /**
   * One batch, retried until acked or its deadline. Its hints stay marked in flight until their
   * "delivered" records are durable (and they are forgotten), so they are not sent twice meanwhile.
   */
  private sendBatch(target: NodeIndex, batch: Hint[]): void {
    const { ports } = this;
    for (const h of batch) h.inFlight = true;
    this.batchesInFlight.set(target, (this.batchesInFlight.get(target) ?? 0) + 1);
    const batchDone = () => this.batchesInFlight.set(target, Math.max(0, (this.batchesInFlight.get(target) ?? 1) - 1));
    const writes = batch.map((h): [Key, StoredValue, Stamp] => [h.key, h.value, h.stamp]);
    const now = ports.nowMs();
    const msg = ports.requests.register(target, (id): HintBatch => ({ t: 'hints', from: ports.self, gen: ports.generation, id, writes }),
      now, now + 2 * ports.config.writeTimeoutMs, true,
      () => {
        batchDone();
        writes.forEach(([key, , stamp], i) => ports.append({ t: 'hd', target, key, stamp }, i < writes.length - 1 ? null : () => {
          for (const h of batch) h.inFlight = false; // a newer hint for one of these keys may remain
          ports.log('info', 'hints-delivered', `hints delivered to ${ports.nameOf(target)}: ${writes.length}` +
            ` (keys ${summarizeKeys(writes.map((w) => w[0]))}); ${this.hints.countFor(target)} left`);
          this.deliver(target);
        }));
      },
      () => {
        batchDone();
        for (const h of batch) h.inFlight = false; // the sweep or the next UP retries them
      });
    ports.sendPeer(target, msg);
  }
}
