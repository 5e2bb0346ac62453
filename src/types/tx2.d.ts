// The part of tx2 (pm2's metrics channel) ringkv uses; the package ships no types.
declare module 'tx2' {
  interface Metric { val(): unknown; set(value: unknown): void }
  interface Tx2 {
    /** A value pm2 shows (pm2 monit, pm2 show, axm_monitor in pm2 jlist), read from `value` about once a second. */
    metric(opts: { name: string; unit?: string; value: () => number | string }): Metric;
  }
  const tx2: Tx2;
  export default tx2;
}
