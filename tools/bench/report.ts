// Tables for people, every figure for --json, and ratios of ringkv to each baseline.
import type { RunResult } from './driver.js';
import type { LatencyUs, OpStats } from './recorder.js';
import type { ProcessStats } from './proc.js';
import type { OpKind } from './workload.js';

export const latencyColumns = ['p50', 'p95', 'p99', 'p999', 'max'] as const satisfies readonly (keyof LatencyUs)[];
const latencyTitles: Record<(typeof latencyColumns)[number], string> = { p50: 'p50', p95: 'p95', p99: 'p99', p999: 'p99.9', max: 'max' };

/** ringkv divided by a baseline: above 1 on ops/s is faster, below 1 on a latency is faster. */
export interface OpRatio {
  op: OpKind;
  opsPerSec: number | null;
  latency: Record<(typeof latencyColumns)[number], number | null>;
}

export function ratios(ours: RunResult, base: RunResult): OpRatio[] {
  return ours.ops.map((o) => {
    const b = base.ops.find((x) => x.op === o.op);
    const div = (a: number, c: number | undefined) => (c === undefined || c === 0 || a === 0 ? null : a / c);
    return {
      op: o.op,
      opsPerSec: div(o.opsPerSec, b?.opsPerSec),
      latency: Object.fromEntries(latencyColumns.map((k) => [k, div(o.latencyUs[k], b?.latencyUs[k])])) as OpRatio['latency'],
    };
  });
}

export function formatMs(us: number): string {
  const ms = us / 1000;
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms).toLocaleString('en-US')} ms`;
}

export function formatRate(perSec: number): string {
  return Math.round(perSec).toLocaleString('en-US');
}

function formatRatio(r: number | null): string {
  if (r === null) return '-';
  return r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

/** One table per operation: each run's row, and under each baseline ringkv's ratio to it. */
export function opTables(ours: RunResult | null, baselines: RunResult[]): string {
  const runs = [...(ours ? [ours] : []), ...baselines];
  const ops = [...new Set(runs.flatMap((r) => r.ops.map((o) => o.op)))];
  const header = ['', 'ops/s', ...latencyColumns.map((k) => latencyTitles[k]), 'errors'];
  const lines: string[] = [];
  for (const op of ops) {
    const rows: string[][] = [];
    const row = (r: RunResult) => {
      const s = r.ops.find((o) => o.op === op);
      rows.push(s ? [r.target, formatRate(s.opsPerSec), ...latencyColumns.map((k) => formatMs(s.latencyUs[k])), String(s.errorCount)]
        : [r.target, '-', ...latencyColumns.map(() => '-'), '-']);
    };
    if (ours) row(ours);
    for (const b of baselines) {
      row(b);
      if (!ours) continue;
      const r = ratios(ours, b).find((x) => x.op === op);
      if (r) rows.push([`ringkv/${b.target}`, formatRatio(r.opsPerSec), ...latencyColumns.map((k) => formatRatio(r.latency[k])), '']);
    }
    lines.push(`${op === 'read' ? 'read (get)' : 'write (put)'}`, ...table([header, ...rows]).map((l) => `  ${l}`), '');
  }
  for (const r of runs) {
    for (const s of r.ops) {
      if (s.errorCount > 0) lines.push(`errors ${r.target} ${s.op}: ${Object.entries(s.errors).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    }
  }
  if (ours && baselines.length > 0) lines.push('ratios are ringkv / baseline: above 1x on ops/s is faster, below 1x on a latency is faster');
  return lines.join('\n').trimEnd();
}

export function processTable(runs: RunResult[]): string {
  const rows: string[][] = [['', 'process', 'pid', 'CPU %', 'of it sys', 'peak RSS']];
  const left = new Set([0, 1]);
  for (const r of runs) {
    for (const p of r.processes) {
      rows.push([r.target, p.name, String(p.pid), formatCpu(p), p.sysPercent === null ? '-' : `${p.sysPercent.toFixed(0)}%`, p.peakRssMb === null ? '-' : `${p.peakRssMb.toFixed(1)} MB`]);
    }
    const cpu = r.processes.reduce((a, p) => a + (p.cpuPercent ?? 0), 0);
    if (r.total.opsPerSec > 0) rows.push([r.target, 'all of the above, per operation', '', `${((cpu / 100 / r.total.opsPerSec) * 1e6).toFixed(0)} µs`, '', '']);
    const ops = r.total.opsPerSec * r.windowS;
    if (ops > 0 && r.machine.udpDatagrams !== null && r.machine.loopbackBytes !== null) {
      rows.push([r.target, 'UDP datagrams / loopback bytes per operation (machine-wide)', '', (r.machine.udpDatagrams / ops).toFixed(2), `${Math.round(r.machine.loopbackBytes / ops)} B`, '']);
    }
  }
  const machine = runs.map((r) => {
    const m = r.machine;
    if (m.busyPercent === null) return null;
    return `${r.target} ${m.busyPercent.toFixed(0)}% busy of ${m.cores * 100}%, ${m.otherPercent?.toFixed(0) ?? '-'}% outside the processes above (other work, pm2, kernel softirq)`;
  }).filter((x) => x !== null);
  return [
    'processes (CPU as % of one core over the measured window; peak RSS = VmHWM since the process started)',
    ...table(rows, left).map((l) => `  ${l}`),
    ...(machine.length > 0 ? [`machine during each run: ${machine.join('; ')}`] : []),
  ].join('\n');
}

function formatCpu(p: ProcessStats): string {
  return p.cpuPercent === null ? '-' : `${p.cpuPercent.toFixed(0)}%`;
}

export function runSummary(r: RunResult): string {
  const parts = [`${r.target}: ${formatRate(r.total.opsPerSec)} ops/s over ${r.windowS.toFixed(1)} s (${r.total.count.toLocaleString('en-US')} ok, ${r.total.errorCount} errors)`];
  const client = (r.notes as { client?: { retransmitted: number; duplicates: number; dropped: Record<string, number> } }).client;
  if (client) parts.push(`client retransmitted ${client.retransmitted}, late duplicates ${client.duplicates}, dropped ${JSON.stringify(client.dropped)}`);
  return parts.join('; ');
}

/** Columns in `left` left-aligned (default: the first), the rest right-aligned. */
export function table(rows: string[][], left: ReadonlySet<number> = new Set([0])): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

export function opStatsByName(r: RunResult, op: OpKind): OpStats | undefined {
  return r.ops.find((o) => o.op === op);
}
