// A replica's part in the ring's agreement on the wire: `ring` messages in, the acceptor and learner
// of ring-holder.ts, answers out once durable, and the epoch in heartbeats so a replica that missed a
// decision catches up.
//
// Persist before reply: an answer that follows a change of the acceptor state (a promise, a vote, an
// adopted ring) leaves only once its `ring` record is durable; an answer that changes nothing (a
// retransmitted prepare) still waits for the newest ring record on its way to disk, since it tells
// the proposer what that record holds. A full disk that refuses the record sends no answer at all:
// the proposer retransmits, and the record is appended again with the other refused ones.
//
// Until peers come from the ring (ARCHITECTURE.md, "Ring changes", item 4) a replica addresses its
// peers through nodes.toml, so it refuses to vote for, or adopt, a ring with a member it has no
// address for, or another replication factor: following it would send copies nowhere.
import type { LogRecord } from './log-record.js';
import type { RingMessage } from './messages.js';
import { followProblem, type RingHolder } from './ring-holder.js';
import type { AgreementMessage } from './ring/agreement.js';
import type { RingState } from './ring/state.js';
import { decodeAgreement, encodeAgreement } from './ring/wire.js';
import type { NodeIndex } from './types.js';

export interface RingPeerPorts {
  readonly self: NodeIndex;
  /** The members this replica can address (nodes.toml's names) and the replication factor it runs. */
  readonly peerNames: readonly string[];
  readonly replicationFactor: number;
  nowMs(): number;
  /** Appends; `then` runs once durable. Returns the record's lsn. */
  append(record: LogRecord, then: () => void): number;
  /** Runs `then` once every record up to `lsn` is durable (at once when it is). */
  afterDurable(lsn: number, then: () => void): void;
  send(to: NodeIndex, msg: RingMessage): void;
  /** Places keys by a newly decided ring (durable by now). */
  adopt(ring: RingState): void;
  log(level: 'info' | 'warn', event: string, text: string): void;
  countDrop(reason: string): void;
}

/** A peer behind this replica's epoch is sent the ring at most this often (heartbeats come every gossip interval). */
export const ringCatchUpIntervalMs = 1_000;

export class RingPeer {
  /** The newest `ring` record appended (0: none this run): answers wait for it to be durable. */
  private ringLsn = 0;
  private readonly caughtUpAtMs = new Map<NodeIndex, number>();

  constructor(private readonly holder: RingHolder, private readonly ports: RingPeerPorts) {}

  receive(from: NodeIndex, msg: RingMessage): void {
    const decoded = decodeAgreement(msg.m);
    if (!decoded.ok) { this.ports.countDrop('invalid'); return; }
    const m = decoded.value;
    const ring = m.t === 'accept' || m.t === 'decided' ? m.ring : null;
    const problem = ring === null || ring.epoch <= this.holder.ring.epoch ? null : followProblem(ring, this.ports.peerNames, this.ports.replicationFactor);
    if (problem !== null) {
      this.ports.log('warn', 'ring-refused', `refusing ${m.t === 'accept' ? 'to vote for' : 'to adopt'} ring epoch ${ring!.epoch}: it has ${problem}`);
      if (m.t === 'accept') this.sendTo(from, { t: 'refused', epoch: m.epoch, ballot: m.ballot, reason: `it has ${problem}` });
      return;
    }
    const step = this.holder.receive(m);
    const answer = (): void => {
      if (step.adopted !== null) this.adopted(step.adopted);
      if (step.reply !== null) this.sendTo(from, step.reply);
    };
    if (step.record !== null) this.ringLsn = this.ports.append(step.record, answer);
    else this.ports.afterDurable(this.ringLsn, answer);
  }

  /** The record of the ring state appended again (after a full disk refused it): answers wait for this one. */
  rewritten(lsn: number): void {
    this.ringLsn = lsn;
  }

  /** A heartbeat said which epoch the peer holds: one behind this replica's is sent the ring (it persists it, then follows). */
  heartbeat(from: NodeIndex, epoch: number): void {
    const ring = this.holder.ring;
    if (epoch >= ring.epoch) return;
    const now = this.ports.nowMs();
    const last = this.caughtUpAtMs.get(from);
    if (last !== undefined && now - last < ringCatchUpIntervalMs) return;
    this.caughtUpAtMs.set(from, now);
    this.ports.afterDurable(this.ringLsn, () => this.sendTo(from, { t: 'decided', ring }));
  }

  private adopted(ring: RingState): void {
    this.ports.log('info', 'ring-epoch', `holds ring epoch ${ring.epoch}` +
      `${ring.change === null ? '' : ` (${ring.change.change.kind} at step ${ring.change.step}${ring.change.aborting ? ', aborting' : ''})`}: ${ring.members.map((m) => m.name).join(', ')}`);
    this.ports.adopt(ring);
  }

  private sendTo(to: NodeIndex, m: AgreementMessage): void {
    this.ports.send(to, { t: 'ring', from: this.ports.self, m: encodeAgreement(m) });
  }
}
