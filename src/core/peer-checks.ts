// What a node checks about each peer before it trusts its traffic, beside the AEAD: that its clock
// is within max_clock_skew_ms of ours, that its config agrees with ours (config-digest.ts), and
// whether either side's datagrams are being refused as forged (another keyring). Each problem is
// logged with the peer's name at most once a minute, and shown in status.
import type { LogEvent } from './effects.js';
import { cookieProblemShownMs, peerProblemLogIntervalMs } from './limits.js';
import type { NodeIndex } from './types.js';

interface PeerState {
  /** Its wall clock minus ours at its last heartbeat. */
  offsetMs: number | null;
  /** The last heartbeat showed a clock beyond the bound (either way): no replica traffic with it. */
  clockOut: boolean;
  /** A stamp it sent was refused as too far ahead (last time). */
  clockRefusedAtMs: number;
  digest: string | null;
  forgedAtMs: number;
  refusesOurCookieAtMs: number;
  lastLogMs: Map<string, number>;
}

export type Logger = (level: LogEvent['level'], name: string, text: string) => void;

export class PeerChecks {
  private readonly peers: PeerState[];
  private lastSuspectLogMs = -Infinity;

  constructor(
    nodeCount: number,
    private readonly self: NodeIndex,
    readonly digest: string,
    readonly maxSkewMs: number,
    private readonly log: Logger,
    private readonly nameOf: (node: NodeIndex) => string,
  ) {
    this.peers = Array.from({ length: nodeCount }, () => ({
      offsetMs: null, clockOut: false, clockRefusedAtMs: -Infinity, digest: null,
      forgedAtMs: -Infinity, refusesOurCookieAtMs: -Infinity, lastLogMs: new Map(),
    }));
  }

  /**
   * A heartbeat's clock and digest. Returns whether the node may take it as a sign of life: not when
   * the peer's clock is beyond the bound either way (a fast one would drag ours; a slow one stamps
   * writes that lose to older ones) nor when its config differs. Refused, the peer goes DOWN here.
   */
  heartbeat(peer: NodeIndex, wallMs: number, digest: string, nowMs: number): boolean {
    const p = this.state(peer);
    const offsetMs = wallMs - nowMs;
    p.offsetMs = offsetMs;
    const wasOut = p.clockOut;
    p.clockOut = Math.abs(offsetMs) > this.maxSkewMs;
    if (p.clockOut) {
      this.logPeer(peer, 'clock', nowMs, `peer ${this.nameOf(peer)}'s clock is ${signed(offsetMs)} ms from this one's, beyond max_clock_skew_ms ` +
        `(${this.maxSkewMs}): its heartbeats, writes and hints are refused until the clocks agree (check NTP on both hosts)`);
    } else if (wasOut) {
      this.log('info', 'clock-skew', `peer ${this.nameOf(peer)}'s clock is back within max_clock_skew_ms (${signed(offsetMs)} ms)`);
      p.lastLogMs.delete('clock');
    }
    this.checkMajority(nowMs);
    const wasMismatched = p.digest !== null && p.digest !== this.digest;
    p.digest = digest;
    if (digest !== this.digest) {
      this.logPeer(peer, 'config', nowMs, `peer ${this.nameOf(peer)} runs another config (digest ${digest}, ours ${this.digest}: ` +
        `nodes in order, replication_factor or value_bytes_max differ): no replica traffic with it until nodes.toml agrees`);
    } else if (wasMismatched) {
      this.log('info', 'config-mismatch', `peer ${this.nameOf(peer)}'s config agrees again (digest ${digest})`);
      p.lastLogMs.delete('config');
    }
    return !p.clockOut && digest === this.digest;
  }

  /** May replica requests go to, or come from, this peer? */
  trusted(peer: NodeIndex): boolean {
    if (peer === this.self) return true;
    const p = this.state(peer);
    return !p.clockOut && (p.digest === null || p.digest === this.digest);
  }

  /** A stamp from the peer was too far ahead: refused, logged with how far. */
  stampRefused(peer: NodeIndex, what: string, aheadMs: number, nowMs: number): void {
    const p = this.state(peer);
    p.clockRefusedAtMs = nowMs;
    this.logPeer(peer, 'stamp', nowMs, `refused ${what} from ${this.nameOf(peer)}: stamped ${aheadMs} ms ahead of this clock, ` +
      `beyond max_clock_skew_ms (${this.maxSkewMs}); not stored, clock not moved`);
  }

  /** A datagram from the peer's address failed authentication (forged, or under a key this replica does not hold). */
  forged(peer: NodeIndex, nowMs: number): void {
    this.state(peer).forgedAtMs = nowMs;
    this.logPeer(peer, 'forged', nowMs, `datagrams from ${this.nameOf(peer)}'s address fail authentication: it runs with another keyring ` +
      `(copy the keyring file to every replica host); it has been told so`);
  }

  /** The peer said (unauthenticated, so only a hint) that our datagrams fail its authentication. */
  refusesOurCookie(peer: NodeIndex, nowMs: number): void {
    this.state(peer).refusesOurCookieAtMs = nowMs;
    this.logPeer(peer, 'notice', nowMs, `${this.nameOf(peer)} says our datagrams fail its authentication (an unauthenticated notice): ` +
      `this replica's keyring differs from its keyring`);
  }

  report(peer: NodeIndex, nowMs: number): { clockOffsetMs: number | null; clockRefused: boolean; configMismatch: boolean; forged: boolean; refusesOurCookie: boolean } {
    const p = this.state(peer);
    return {
      clockOffsetMs: p.offsetMs,
      clockRefused: p.clockOut || nowMs - p.clockRefusedAtMs < cookieProblemShownMs,
      configMismatch: p.digest !== null && p.digest !== this.digest,
      forged: nowMs - p.forgedAtMs < cookieProblemShownMs,
      refusesOurCookie: nowMs - p.refusesOurCookieAtMs < cookieProblemShownMs,
    };
  }

  /** Set when most peers heard from are beyond the bound: then it is this clock that is likely wrong. */
  clockWarning(): string | null {
    const heard = this.peers.filter((p, i) => i !== this.self && p.offsetMs !== null);
    const out = heard.filter((p) => p.clockOut);
    if (heard.length === 0 || out.length * 2 <= this.peers.length - 1) return null;
    const offsets = out.map((p) => p.offsetMs!).sort((a, b) => a - b);
    const median = offsets[Math.floor(offsets.length / 2)]!;
    return `the clocks of ${out.length} of ${this.peers.length - 1} peers are beyond max_clock_skew_ms (${this.maxSkewMs}) of this host's ` +
      `(median ${signed(median)} ms): this host's clock is probably ${median > 0 ? 'behind' : 'ahead'}; fix NTP here. ` +
      `Replica traffic with those peers is refused meanwhile`;
  }

  /** A majority of the cluster (this node included) has heard heartbeats within the bound. */
  clockConfirmed(): boolean {
    const within = this.peers.filter((p, i) => i !== this.self && p.offsetMs !== null && !p.clockOut).length;
    return (within + 1) * 2 > this.peers.length;
  }

  private checkMajority(nowMs: number): void {
    const warning = this.clockWarning();
    if (warning === null || nowMs - this.lastSuspectLogMs < peerProblemLogIntervalMs) return;
    this.lastSuspectLogMs = nowMs;
    this.log('warn', 'clock-suspect', `CLOCK PROBLEM: ${warning}`);
  }

  private logPeer(peer: NodeIndex, kind: string, nowMs: number, text: string): void {
    const p = this.state(peer);
    const last = p.lastLogMs.get(kind) ?? -Infinity;
    if (nowMs - last < peerProblemLogIntervalMs) return;
    p.lastLogMs.set(kind, nowMs);
    const name = kind === 'clock' || kind === 'stamp' ? 'clock-skew' : kind === 'config' ? 'config-mismatch' : 'bad-cookie';
    this.log('warn', name, text);
  }

  private state(peer: NodeIndex): PeerState {
    const p = this.peers[peer];
    if (p === undefined) throw new RangeError(`peer checks: no node ${peer}`);
    return p;
  }
}

function signed(ms: number): string {
  return ms >= 0 ? `+${ms}` : String(ms);
}
