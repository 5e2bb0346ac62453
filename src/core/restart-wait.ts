// A restarted replica's wait-out before it coordinates writes, as CockroachDB waits out its maximum
// clock offset at start. Its previous process may have stamped a client's write and died before
// answering; a retransmission of it must not be stamped again (a second, newer stamp could
// overwrite writes acknowledged in between). Such a write reached that process before it was gone
// (this process's start, or the clean stop it recorded: io/generation.ts), sent by a client clock
// at most max_clock_skew_ms ahead of this one, so its sentAtMs is below writesServedFromMs = gone +
// max_clock_skew_ms: those are answered Timeout (coordinator.ts). No write is stamped before that
// moment either, so every stamp this process makes is past any its previous process made (they ran
// at most max_clock_skew_ms ahead of its clock, which stopped at `gone`).
//
// The runtime hears `serving` (and kvd tells pm2 'ready') one bound later, at readyAtMs: a client
// whose clock runs up to max_clock_skew_ms behind this one stamps what it sends from then on with a
// sentAtMs past writesServedFromMs. So every write sent after pm2 counts the replica as up is served,
// whichever clock within the bound sent it, and `pm2 restart`, `pm2 reload` and npm start's
// "serving" line mean what they say. After a clean stop longer than the wait it is over before the
// new process starts; a replica with a fresh data dir had no previous process and serves writes at once.
export class RestartWait {
  /** Client writes sent (by their sentAtMs) before this are answered Timeout; none is stamped before it. */
  readonly writesServedFromMs: number;
  /** From this time on every write sent, by any client clock within the bound, is served: pm2's 'ready'. */
  readonly readyAtMs: number;
  private ready = false;

  /** From then on the previous process handled nothing: this generation's start, or the ms after its clean stop. */
  private readonly previousGoneMs: number;

  /** previousStoppedAtMs: the previous process stopped cleanly and handled nothing after this time (by this host's clock). */
  constructor(private readonly generation: number, restarted: boolean, private readonly maxClockSkewMs: number, private readonly previousStoppedAtMs?: number) {
    this.previousGoneMs = previousStoppedAtMs === undefined ? generation : previousStoppedAtMs + 1;
    this.writesServedFromMs = restarted ? this.previousGoneMs + maxClockSkewMs : 0;
    this.readyAtMs = restarted ? this.previousGoneMs + 2 * maxClockSkewMs : 0;
  }

  /** Until every write sent is served, in ms (0 from then on): status and metrics. */
  remainingMs(nowMs: number): number {
    return Math.max(0, this.readyAtMs - nowMs);
  }

  /** The start line's account of the wait, or null when there is none. */
  startText(nowMs: number): string | null {
    if (nowMs >= this.readyAtMs) return null;
    return `restarted: serves writes in ${this.remainingMs(nowMs)} ms (2 × max_clock_skew_ms ${this.maxClockSkewMs}): writes sent before ` +
      `${this.writesServedFromMs} (${this.previousStoppedAtMs === undefined ? 'its start' : `its previous process's clean stop at ${this.previousStoppedAtMs}`} ` +
      `+ the clock bound) may have reached its previous process, so they are answered Timeout and ` +
      `never stamped again; pm2 hears 'ready' once a client clock up to the bound behind this one sends past that too. Reads are served meanwhile`;
  }

  /** True once, at the first time every write is served: the moment to tell the runtime. */
  becameReady(nowMs: number): boolean {
    if (this.ready || nowMs < this.readyAtMs) return false;
    this.ready = true;
    return true;
  }

  /** Logged when the wait ends (null when there was none). */
  readyText(nowMs: number): string | null {
    if (this.readyAtMs === 0) return null;
    return `serving writes, ${nowMs - this.generation} ms after the start of generation ${this.generation} (2 × max_clock_skew_ms waited out ` +
      `from ${this.previousStoppedAtMs === undefined ? 'its start' : 'its previous process\'s clean stop'})`;
  }
}
