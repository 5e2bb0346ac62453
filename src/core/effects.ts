// What goes into a node and what comes out of it.
import type { LogRecord } from './log-record.js';
import type { Principal } from './authorization.js';
import type { ClientReply, Message } from './messages.js';
import type { Address } from './types.js';

export type Input =
  /** Replay is done: start heartbeating and serving. */
  | { kind: 'start' }
  /**
   * A decoded, validated, authenticated datagram and the address it came from. `sender`: who its key
   * proves sealed it (the runtime always says; absent only where no keys are in play, as in the
   * simulator): the node refuses what the authorization table does not let that sender send.
   */
  | { kind: 'message'; from: Address; msg: Message; sender?: Principal }
  /** Time passed: retransmit, expire, heartbeat, sweep hints. */
  | { kind: 'tick' }
  /** Every record up to and including `upToLsn` is durable; the log is now `logBytes` long. */
  | { kind: 'synced'; upToLsn: number; logBytes: number }
  /**
   * The records fromLsn..toLsn could not be written for lack of space; the runtime cut the log back
   * to before them, so they are not in it and never will be. The node never applies them, and
   * whatever waited for them (acks) never happens; later appends may succeed.
   */
  | { kind: 'append-failed'; fromLsn: number; toLsn: number; reason: string }
  /** The runtime refused a datagram (short, forged, cbor, invalid, spoofed …): counted here. */
  | { kind: 'dropped'; from: Address; reason: string }
  /**
   * An unauthenticated "bad cookie" notice came from this address: its owner says our datagrams fail
   * its authentication. Anyone could send one, so it is only shown and logged, never acted upon.
   */
  | { kind: 'cookie-notice'; from: Address };

export type Effect =
  | { kind: 'send'; to: Address; msg: Message }
  | { kind: 'reply'; to: Address; msg: ClientReply }
  /** Append a record to the log; the node hears `synced` once it is durable. lsn counts from 1 per process. */
  | { kind: 'append'; lsn: number; record: LogRecord }
  /**
   * Memory as of every record up to `coversLsn`. The runtime writes it durably (tmp, fsync, rename),
   * starts a new log segment for later appends, and may then delete every segment whose records
   * are all at or below coversLsn. Replay is: the newest snapshot, then every remaining segment in
   * order; records replayed twice are harmless (last write wins; hints keep the newest stamp).
   */
  | { kind: 'snapshot'; coversLsn: number; record: LogRecord & { t: 'snap' } }
  | { kind: 'log'; event: LogEvent }
  /**
   * Every write sent from now on is served (once per process: at start, or when a restarted
   * replica's wait-out ends; see restart-wait.ts). kvd tells pm2 it is ready only then.
   */
  | { kind: 'serving' };

export interface LogEvent {
  level: 'info' | 'warn';
  /** A short stable name: started, peer-up, peer-down, hint-stored, hints-delivered, read-repair, dropped … */
  name: string;
  /** One readable line for an operator. */
  text: string;
}
