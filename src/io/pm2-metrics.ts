// The replica's figures in pm2 (`pm2 monit`, `pm2 show replica-2`, axm_monitor in `pm2 jlist`),
// through tx2, the package pm2's docs use for custom metrics. tx2 reads each value about once a
// second and sends it to pm2 over the process's IPC channel; without pm2 there is none to send on.
import tx2 from 'tx2';
import { errorKinds, requestKinds, type MetricsSnapshot } from './metrics.js';

/** One snapshot per pm2 sample, however many metrics read it. */
const sampleMs = 500;

export function reportToPm2(read: () => MetricsSnapshot, nowMs: () => number = Date.now): void {
  let last: MetricsSnapshot | null = null;
  let lastAtMs = -Infinity;
  const sample = (): MetricsSnapshot => {
    const now = nowMs();
    if (last === null || now - lastAtMs >= sampleMs) {
      last = read();
      lastAtMs = now;
    }
    return last;
  };
  for (const kind of requestKinds) tx2.metric({ name: `${kind} req/s`, value: () => sample().requestsPerSecond[kind] });
  tx2.metric({ name: 'coordinator p99', unit: 'ms', value: () => sample().coordinatorP99Ms ?? 0 });
  for (const kind of errorKinds) tx2.metric({ name: `${kind} answers`, value: () => sample().errors[kind] });
  tx2.metric({ name: 'hints pending', value: () => sample().hintsPending });
  tx2.metric({ name: 'peers up', value: () => sample().peersUp });
  tx2.metric({ name: 'serves writes in', unit: 'ms', value: () => sample().writesServedInMs });
  tx2.metric({ name: 'log size', unit: 'bytes', value: () => sample().logBytes });
  tx2.metric({ name: 'log write p50', unit: 'ms', value: () => sample().logWriteP50Ms ?? 0 });
  tx2.metric({ name: 'log write p99', unit: 'ms', value: () => sample().logWriteP99Ms ?? 0 });
  tx2.metric({ name: 'records per log write', value: () => recordsPerWrite(sample()) });
  tx2.metric({ name: 'datagram handling p50', unit: 'ms', value: () => sample().datagramP50Ms ?? 0 });
  tx2.metric({ name: 'datagram handling p99', unit: 'ms', value: () => sample().datagramP99Ms ?? 0 });
  tx2.metric({ name: 'keys stored', value: () => sample().keysStored });
  tx2.metric({ name: 'anti-entropy keys repaired', value: () => sample().antiEntropyKeysRepaired });
}

/** Since start: how many records one durable write carried on average (group commit at work). */
export function recordsPerWrite(s: MetricsSnapshot): number {
  return s.logWrites === 0 ? 0 : Math.round((s.logRecordsWritten / s.logWrites) * 10) / 10;
}
