// Round-trip estimation as TCP does it (RFC 6298): a smoothed round trip and its mean deviation,
// fed only with replies to requests sent once (Karn's rule is the caller's), giving a retransmission
// timeout of srtt + 4 * rttvar within a floor and a ceiling.
//
// With many requests in flight to one server, most of a round trip is queueing there, and Karn's
// rule keeps the slowest replies (the retransmitted ones) out of the samples: srtt + 4 * rttvar then
// sits inside the latency distribution and a good share of requests is sent twice for nothing. A
// quantile guard (Cassandra's speculative retry at the p99 is the same idea) keeps the timeout above
// a high quantile of the recent samples, so only the tail that is really late is retransmitted.

/** Recent samples kept for the quantile guard. */
export const quantileWindowSamples = 256;

export interface QuantileGuard {
  /** Which quantile of the recent samples the timeout stays above, e.g. 0.99. */
  quantile: number;
  /** The timeout is at least this times that quantile. */
  factor: number;
}

export class RttEstimator {
  private srttMs: number | undefined;
  private rttVarMs = 0;
  private readonly recent: number[] = [];
  private nextSlot = 0;
  /** The guard's bound, recomputed every quantileWindowSamples / 4 samples; 0 until then. */
  private guardMs = 0;
  private sinceGuard = 0;

  constructor(readonly firstMs: number, readonly floorMs: number, readonly ceilingMs: number, readonly guard: QuantileGuard | null = null) {}

  sample(rttMs: number): void {
    if (this.srttMs === undefined) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - rttMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
    }
    if (this.guard === null) return;
    if (this.recent.length < quantileWindowSamples) this.recent.push(rttMs);
    else this.recent[this.nextSlot] = rttMs;
    this.nextSlot = (this.nextSlot + 1) % quantileWindowSamples;
    if (++this.sinceGuard >= quantileWindowSamples / 4) this.updateGuard();
  }

  /** The timeout before backoff: firstMs until a round trip has been measured. */
  /** The smoothed round trip (srtt), once sampled. */
  smoothedMs(): number | undefined {
    return this.srttMs;
  }

  timeoutMs(): number {
    if (this.srttMs === undefined) return this.firstMs;
    const rto = Math.max(this.srttMs + 4 * this.rttVarMs, this.guardMs);
    return Math.min(this.ceilingMs, Math.max(this.floorMs, rto));
  }

  private updateGuard(): void {
    this.sinceGuard = 0;
    const sorted = [...this.recent].sort((a, b) => a - b);
    const at = sorted[Math.min(sorted.length - 1, Math.floor(this.guard!.quantile * sorted.length))]!;
    this.guardMs = at * this.guard!.factor;
  }
}
