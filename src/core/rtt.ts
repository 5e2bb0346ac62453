// Round-trip estimation as TCP does it (RFC 6298): a smoothed round trip and its mean deviation,
// fed only with replies to requests sent once (Karn's rule is the caller's), giving a retransmission
// timeout of srtt + 4 * rttvar within a floor and a ceiling.
export class RttEstimator {
  private srttMs: number | undefined;
  private rttVarMs = 0;

  constructor(readonly firstMs: number, readonly floorMs: number, readonly ceilingMs: number) {}

  sample(rttMs: number): void {
    if (this.srttMs === undefined) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - rttMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
    }
  }

  /** The timeout before backoff: firstMs until a round trip has been measured. */
  timeoutMs(): number {
    if (this.srttMs === undefined) return this.firstMs;
    return Math.min(this.ceilingMs, Math.max(this.floorMs, this.srttMs + 4 * this.rttVarMs));
  }
}
