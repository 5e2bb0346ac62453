// A trace as kvc prints it: Cassandra's table (a session id above it, `activity | timestamp |
// source | source_elapsed`, the request as the first row and `Request complete` as the last), and
// the same rows as JSON, both made from the typed events of core/trace.ts.
import { activityText, describeRequest, type TraceEvent, type TraceReport } from '../core/trace.js';
import type { NodeIndex } from '../core/types.js';

export interface TraceRow {
  activity: string;
  /** The source's wall clock, µs since the epoch. */
  timestampUs: number;
  source: string;
  /** µs since the source began its part of the request. */
  sourceElapsedUs: number;
}

/** The typed event plus its rendered row: machines read `kind` and its fields, people the activity. */
export type TraceJsonEvent = TraceRow & Omit<TraceEvent, 'src' | 'atUs' | 'elapsedUs' | 'peer' | 'nodes' | 'down'> & {
  peer?: string; nodes?: string[]; down?: string[];
};

function namer(names: readonly string[]): (n: NodeIndex) => string {
  return (n) => names[n] ?? `node-${n}`;
}

/** Every row, the synthetic first (the request) and last (`Request complete`) included. */
export function traceRows(t: TraceReport, names: readonly string[]): TraceRow[] {
  const nameOf = namer(names);
  const coordinator = nameOf(t.coordinator);
  const first: TraceRow = {
    activity: `${describeRequest(t.op, t.key, t.level)} from ${t.client}${t.sampled ? ' (sampled by trace_probability)' : ''}`,
    timestampUs: t.startedAtUs, source: coordinator, sourceElapsedUs: 0,
  };
  const rows = t.events.map((e) => ({ activity: activityText(e, nameOf), timestampUs: e.atUs, source: nameOf(e.src), sourceElapsedUs: e.elapsedUs }));
  const last: TraceRow = { activity: 'Request complete', timestampUs: t.startedAtUs + t.durationUs, source: coordinator, sourceElapsedUs: t.durationUs };
  return [first, ...rows, last];
}

/** HH:MM:SS.ffffff, UTC. */
export function timeOfDay(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Math.floor(us % 1_000_000), 6)}`;
}

export function traceTable(t: TraceReport, names: readonly string[]): string {
  const header = ['activity', 'timestamp', 'source', 'source_elapsed'];
  const cells = traceRows(t, names).map((r) => [r.activity, timeOfDay(r.timestampUs), r.source, String(r.sourceElapsedUs)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => ` ${c.map((x, i) => (i === 3 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join(' | ')}`.trimEnd();
  return [
    `Tracing session: ${t.session}`,
    '',
    line(header),
    widths.map((w) => '-'.repeat(w + 2)).join('+').slice(0, -1),
    ...cells.map(line),
    '',
  ].join('\n');
}

export function traceJson(t: TraceReport, names: readonly string[]): Record<string, unknown> {
  const nameOf = namer(names);
  const rows = traceRows(t, names);
  const events: TraceJsonEvent[] = t.events.map((e, i) => {
    const { src: _src, atUs: _at, elapsedUs: _el, peer, nodes, down, ...fields } = e;
    return {
      ...rows[i + 1]!, ...fields,
      ...(peer === undefined ? {} : { peer: nameOf(peer) }),
      ...(nodes === undefined ? {} : { nodes: nodes.map(nameOf) }),
      ...(down === undefined ? {} : { down: down.map(nameOf) }),
    };
  });
  return {
    session: t.session, coordinator: nameOf(t.coordinator), request: rows[0]!.activity, op: t.op, key: t.key, level: t.level, client: t.client,
    startedAtUs: t.startedAtUs, durationUs: t.durationUs, sampled: t.sampled, dropped: t.dropped, events,
    decision: events.at(-1)?.kind ?? null,
  };
}
