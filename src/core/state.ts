// The `state` request: everything one replica knows, for `kvc state`, `kvc top` and a dashboard.
// Its status (ring, peers UP/DOWN as it sees them, hints, anti-entropy, clock and config agreement,
// log and disk), plus per peer the age of its last heartbeat and the round trip to it, the recent
// slow requests and traces, and the runtime's figures (request rates, latency quantiles), which
// the runtime adds on the way out since the core measures no time of its own.
import { bad, checked, keyField, list, num, obj, oneOf, text } from './field-checks.js';
import { nodesMax, slowRequestsKeptMax, traceNoteBytesMax } from './limits.js';
import type { StatusReport } from './messages.js';
import { parseTraceReport, tracedOps, type SlowRequest, type TraceReport } from './trace.js';
import { levels } from './types.js';

/** Per peer (this replica too, with nulls), in nodes.toml order. */
export interface PeerLink {
  name: string;
  /** ms since its last heartbeat arrived here (null: this replica). */
  heartbeatAgeMs: number | null;
  /** Smoothed round trip of replica requests to it (null: none measured yet, or this replica). */
  rttMs: number | null;
}

/** A slow request without its trace (the newest traced one goes out whole as slowTrace). */
export type SlowSummary = Omit<SlowRequest, 'trace'>;

/** What the runtime measured: requests per second by kind, error answers since start, latency quantiles in ms. */
export interface Figures {
  requestsPerSecond: Record<string, number>;
  errors: Record<string, number>;
  coordinatorP99Ms: number | null;
  logWriteP50Ms: number | null;
  logWriteP99Ms: number | null;
}

export interface StateReport {
  status: StatusReport;
  generation: number;
  /** This replica's wall clock when it answered (ms): with the peers' clock offsets, how far clocks agree. */
  wallMs: number;
  links: PeerLink[];
  slow: SlowSummary[];
  slowTrace: TraceReport | null;
  sampledTrace: TraceReport | null;
  /** Filled by the runtime (null in the simulator). */
  figures: Figures | null;
}

export function slowSummaries(slow: readonly SlowRequest[]): { slow: SlowSummary[]; slowTrace: TraceReport | null } {
  const traced = slow.filter((s) => s.trace !== null);
  return { slow: slow.map(({ trace: _t, ...rest }) => rest), slowTrace: traced.at(-1)?.trace ?? null };
}

// ---- validation -----------------------------------------------------------------------------------

function numOrNull(x: unknown, what: string): number | null { return x === null ? null : num(x, what); }
function counts(x: unknown, what: string): Record<string, number> {
  const o = obj(x, what);
  const out: Record<string, number> = {};
  for (const k of Object.keys(o).slice(0, 32)) out[text(k, what, 32)] = num(o[k], `${what}.${k}`);
  return out;
}
function trace(x: unknown): TraceReport | null {
  if (x === null) return null;
  const t = parseTraceReport(x);
  return typeof t === 'string' ? bad(t) : t;
}

/** Checks a state answer; `status` is messages.ts's own check of a StatusReport. A reason on failure. */
export function parseState(x: unknown, status: (x: unknown) => StatusReport): StateReport | string {
  return checked(() => {
    const o = obj(x, 'state');
    const f = o.figures === null ? null : obj(o.figures, 'state.figures');
    return {
      status: status(o.status),
      generation: num(o.generation, 'state.generation'),
      wallMs: num(o.wallMs, 'state.wallMs'),
      links: list(o.links, 'state.links', nodesMax).map((l) => {
        const p = obj(l, 'state.links');
        return { name: text(p.name, 'state.links.name', 64), heartbeatAgeMs: numOrNull(p.heartbeatAgeMs, 'heartbeatAgeMs'), rttMs: numOrNull(p.rttMs, 'rttMs') };
      }),
      slow: list(o.slow, 'state.slow', slowRequestsKeptMax).map((s) => {
        const r = obj(s, 'state.slow');
        return {
          op: oneOf(r.op, tracedOps, 'state.slow.op'), key: r.key === null ? null : keyField(r.key, 'state.slow.key'),
          level: r.level === null ? null : oneOf(r.level, levels, 'state.slow.level'),
          atMs: num(r.atMs, 'state.slow.atMs'), durationMs: num(r.durationMs, 'state.slow.durationMs'),
          outcome: text(r.outcome, 'state.slow.outcome', 4 * traceNoteBytesMax), session: r.session === null ? null : text(r.session, 'state.slow.session', 64),
        };
      }),
      slowTrace: trace(o.slowTrace),
      sampledTrace: trace(o.sampledTrace),
      figures: f === null ? null : {
        requestsPerSecond: counts(f.requestsPerSecond, 'figures.requestsPerSecond'), errors: counts(f.errors, 'figures.errors'),
        coordinatorP99Ms: numOrNull(f.coordinatorP99Ms, 'coordinatorP99Ms'), logWriteP50Ms: numOrNull(f.logWriteP50Ms, 'logWriteP50Ms'),
        logWriteP99Ms: numOrNull(f.logWriteP99Ms, 'logWriteP99Ms'),
      },
    };
  });
}
