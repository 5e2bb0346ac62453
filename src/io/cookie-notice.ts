// The "bad cookie" notice: a replica that receives a datagram that fails authentication answers it with
// these few plain bytes, so a sender with the wrong keys learns so within a round trip instead
// of timing out in silence. The notice cannot be authenticated (the two sides share no key), so a
// receiver takes it only as a hint to log and show, never as a reason to act. It is shorter than
// any real datagram (tag + payload), so it cannot be mistaken for one, and it is smaller than what
// provoked it and rate-limited, so it cannot be used to amplify traffic toward a spoofed address.
import type { Address } from '../core/types.js';

export const badCookieNotice = Buffer.from('ringkv: bad cookie\n', 'ascii');

export function isBadCookieNotice(bytes: Uint8Array): boolean {
  return bytes.length === badCookieNotice.length && badCookieNotice.equals(bytes);
}

/** Notices to one address: at most one per this interval. */
export const noticeIntervalMs = 1_000;
/** Notices in all, per interval: a flood from many (spoofed) addresses gets few answers. */
export const noticesPerIntervalMax = 16;
/** Addresses remembered; past it the memory starts over (at worst a few extra notices). */
const addressesRememberedMax = 1_024;

export class NoticeLimiter {
  private readonly lastMs = new Map<Address, number>();
  private windowStartMs = -Infinity;
  private inWindow = 0;

  /** Whether a notice may go to this address now (and counts it if so). */
  allow(to: Address, nowMs: number): boolean {
    if (nowMs - (this.lastMs.get(to) ?? -Infinity) < noticeIntervalMs) return false;
    if (nowMs - this.windowStartMs >= noticeIntervalMs) {
      this.windowStartMs = nowMs;
      this.inWindow = 0;
    }
    if (this.inWindow >= noticesPerIntervalMax) return false;
    this.inWindow++;
    if (this.lastMs.size >= addressesRememberedMax) this.lastMs.clear();
    this.lastMs.set(to, nowMs);
    return true;
  }
}
