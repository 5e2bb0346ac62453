// Persist before send, as etcd's raft asks of its caller: a Send or Reply that a step produced after
// one of that step's Appends leaves only once that Append is durable. Sends that come before any
// Append of their step (a coordinator's fan-out before its own local write) leave at once.
// Both the real runtime and the simulator drive a node through this, so both keep the same rule.
import type { Effect } from './effects.js';
import type { LogRecord } from './log-record.js';

export type Outgoing = Extract<Effect, { kind: 'send' | 'reply' }>;

export interface Routed {
  appends: { lsn: number; record: LogRecord }[];
  snapshots: Extract<Effect, { kind: 'snapshot' }>[];
  sendsNow: Outgoing[];
  logs: Extract<Effect, { kind: 'log' }>[];
  /** From this step on, every write sent is served (see effects.ts): kvd's pm2 'ready'. */
  serving: boolean;
}

export class Outbox {
  private held: { afterLsn: number; out: Outgoing }[] = [];
  private syncedLsn = 0;

  /** Sorts one step's effects: what to write, what may leave now, what waits for the disk. */
  route(effects: Effect[]): Routed {
    const routed: Routed = { appends: [], snapshots: [], sendsNow: [], logs: [], serving: false };
    let stepLsn = 0;
    for (const e of effects) {
      switch (e.kind) {
        case 'append': routed.appends.push(e); stepLsn = e.lsn; break;
        case 'snapshot': routed.snapshots.push(e); break;
        case 'log': routed.logs.push(e); break;
        case 'serving': routed.serving = true; break;
        default:
          if (stepLsn > this.syncedLsn) this.held.push({ afterLsn: stepLsn, out: e });
          else routed.sendsNow.push(e);
      }
    }
    return routed;
  }

  /** The disk made everything up to upToLsn durable: the sends that waited for it, in order. */
  synced(upToLsn: number): Outgoing[] {
    this.syncedLsn = Math.max(this.syncedLsn, upToLsn);
    if (this.held.length === 0 || this.held[0]!.afterLsn > this.syncedLsn) return [];
    const ready = this.held.filter((h) => h.afterLsn <= this.syncedLsn).map((h) => h.out);
    this.held = this.held.filter((h) => h.afterLsn > this.syncedLsn);
    return ready;
  }

  /**
   * The records fromLsn..toLsn will never be durable (a full disk): the sends that waited for them
   * are dropped, never released by a later sync, since what they claim may not hold. What they
   * carried is retransmitted or asked again (acks, replies from the answers cache, hint batches).
   */
  failed(fromLsn: number, toLsn: number): void {
    this.held = this.held.filter((h) => h.afterLsn < fromLsn || h.afterLsn > toLsn);
  }

  get heldCount(): number {
    return this.held.length;
  }
}
