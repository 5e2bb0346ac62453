// The ring a replica holds, and its part in deciding the next epoch: the acceptor of
// ring/agreement.ts, kept durable in the replica's own log ('ring' records, log-record.ts).
//
// nodes.toml gives the first ring (epoch 0). Once the replica holds a ring of its own (a promise,
// a vote or a decided ring was logged), the log is what counts: a nodes.toml that lists other
// members, other addresses or another order is named at start, and the replica follows its ring.
// Every change of the acceptor state comes back as a record to append; the caller appends it in
// the same step as the answer, so the outbox holds the answer until the record is durable
// (persist before reply, core/outbox.ts) and a crash never forgets a promise or a vote it sent.
import type { LogRecord } from './log-record.js';
import { acceptorStep, newAcceptor, type AcceptorState, type AgreementMessage } from './ring/agreement.js';
import type { MemberSpec, RingState } from './ring/state.js';
import { decodeAcceptor, encodeAcceptor, type AcceptorWire } from './ring/wire.js';

/**
 * Why a replica that addresses its peers through nodes.toml (`peers`, its names) cannot follow
 * `ring`, or null: a member it has no address for would silently miss its copies, and a ring change
 * keeps the replication factor. Checked at start (the ring replayed) and before voting for or
 * adopting a ring at runtime (ring-peer.ts), until peers come from the ring.
 */
export function followProblem(ring: RingState, peers: readonly string[], replicationFactor: number): string | null {
  const unknown = ring.members.filter((m) => !peers.includes(m.name));
  if (unknown.length > 0) {
    return `${unknown.map((m) => `${m.name} (${m.host}:${m.port})`).join(', ')}, which nodes.toml does not list, so it has no peer to send their copies to. ` +
      `Add ${unknown.length === 1 ? 'it' : 'them'} to nodes.toml with the address${unknown.length === 1 ? '' : 'es'} shown`;
  }
  if (ring.replicationFactor !== replicationFactor) {
    return `replication factor ${ring.replicationFactor}, nodes.toml says ${replicationFactor}; a ring change keeps the replication factor`;
  }
  return null;
}

export interface HolderStep {
  /** The answer to send once `record` is durable (null: none). */
  readonly reply: AgreementMessage | null;
  /** The acceptor state to append before the answer leaves or the ring is used (null: nothing changed). */
  readonly record: (LogRecord & { t: 'ring' }) | null;
  /** A newly decided ring this replica now holds (null: the same as before). */
  readonly adopted: RingState | null;
}

export class RingHolder {
  private state: AcceptorState;
  /** The log holds a ring state of this replica's own (replayed or appended). */
  private own = false;

  constructor(private readonly file: { readonly nodes: readonly MemberSpec[]; readonly ring: RingState }) {
    this.state = newAcceptor(file.ring);
  }

  get ring(): RingState {
    return this.state.ring;
  }

  get acceptor(): AcceptorState {
    return this.state;
  }

  /** A 'ring' record (or a snapshot's ring) read back at start; the last one is the state. */
  replay(wire: AcceptorWire): void {
    const decoded = decodeAcceptor(wire);
    if (!decoded.ok) throw new RangeError(`ring state in the log: ${decoded.error}`); // log-record.ts checked it already
    this.state = decoded.value;
    this.own = true;
  }

  /** An agreement message to this replica as acceptor and learner. */
  receive(msg: AgreementMessage): HolderStep {
    const before = this.state.ring;
    const step = acceptorStep(this.state, msg);
    this.state = step.state;
    if (!step.persist) return { reply: step.reply, record: null, adopted: null };
    this.own = true;
    return { reply: step.reply, record: this.record(), adopted: step.state.ring === before ? null : step.state.ring };
  }

  /** The current state as a record (appended again after a full disk refused it). */
  record(): LogRecord & { t: 'ring' } {
    return { t: 'ring', acceptor: encodeAcceptor(this.state) };
  }

  /** What a snapshot keeps of the ring: the state, once this replica has one of its own. */
  snapshotPart(): { ring?: AcceptorWire } {
    return this.own ? { ring: encodeAcceptor(this.state) } : {};
  }

  /**
   * Null when nodes.toml lists exactly the members of the ring held (names, addresses, order), else
   * what differs, for the start line: the replica follows its ring either way.
   */
  fileDisagreement(): string | null {
    const ring = this.state.ring;
    const inRing = ring.members;
    const inFile = this.file.nodes;
    const same = inRing.length === inFile.length && inRing.every((m, i) => {
      const f = inFile[i]!;
      return m.name === f.name && m.host === f.host && m.port === f.port && m.state === 'normal';
    });
    if (same) return null;
    const differences: string[] = [];
    const fileNames = new Set(inFile.map((n) => n.name));
    const ringNames = new Set(inRing.map((m) => m.name));
    const missing = inRing.filter((m) => !fileNames.has(m.name)).map((m) => `${m.name}${m.state === 'normal' ? '' : ` (${m.state})`}`);
    const extra = inFile.filter((n) => !ringNames.has(n.name)).map((n) => n.name);
    if (missing.length > 0) differences.push(`not in nodes.toml: ${missing.join(', ')}`);
    if (extra.length > 0) differences.push(`not in the ring: ${extra.join(', ')}`);
    for (const m of inRing) {
      const f = inFile.find((n) => n.name === m.name);
      if (f !== undefined && (f.host !== m.host || f.port !== m.port)) differences.push(`${m.name} is at ${m.host}:${m.port} in the ring, ${f.host}:${f.port} in nodes.toml`);
    }
    const changing = inRing.filter((m) => m.state !== 'normal' && fileNames.has(m.name)).map((m) => `${m.name} is ${m.state}`);
    differences.push(...changing);
    if (differences.length === 0) differences.push('the members are in another order');
    const members = inRing.map((m) => m.name).join(', ');
    return `nodes.toml disagrees with the ring this replica holds (epoch ${ring.epoch}: ${members}${ring.change === null ? '' : ', a change in flight'}): ` +
      `${differences.join('; ')}. Following the ring held; nodes.toml only gives the first ring`;
  }
}
