// Throughput and p99 for every second of each run, as one hand-written SVG: a stall or a crash in
// the middle of a run shows as a dip, a spike or red error marks.
import type { SecondStats } from './recorder.js';

export interface Series { label: string; timeline: SecondStats[] }

const width = 960;
const panelHeight = 220;
const margin = { left: 70, right: 190, top: 50, gap: 56, bottom: 40 };
const colors = ['#1f77b4', '#7f7f7f', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

export function timelineSvg(title: string, series: Series[]): string {
  const plotW = width - margin.left - margin.right;
  const height = margin.top + panelHeight * 2 + margin.gap + margin.bottom;
  const seconds = Math.max(1, ...series.map((s) => s.timeline.length));
  const x = (s: number) => margin.left + ((s + 0.5) / seconds) * plotW;
  const total = (p: SecondStats) => p.ops.read + p.ops.write;
  const rateMax = niceCeil(Math.max(1, ...series.flatMap((s) => s.timeline.map(total))));
  const p99s = series.flatMap((s) => s.timeline.flatMap((p) => [p.p99Us.read, p.p99Us.write].filter((v): v is number => v !== null)));
  const logMin = Math.floor(Math.log10(Math.max(1, Math.min(...p99s, 100))));
  const logMax = Math.max(logMin + 1, Math.ceil(Math.log10(Math.max(...p99s, 1_000))));
  const top1 = margin.top;
  const top2 = margin.top + panelHeight + margin.gap;
  const yRate = (v: number) => top1 + panelHeight - (v / rateMax) * panelHeight;
  const yP99 = (us: number) => top2 + panelHeight - ((Math.log10(Math.max(us, 1)) - logMin) / (logMax - logMin)) * panelHeight;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${margin.left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);

  // Warm-up of the longest run, shaded in both panels.
  const warm = Math.max(0, ...series.map((s) => s.timeline.filter((p) => p.warmup).length));
  if (warm > 0) {
    const w = (warm / seconds) * plotW;
    for (const top of [top1, top2]) out.push(`<rect x="${margin.left}" y="${top}" width="${w.toFixed(1)}" height="${panelHeight}" fill="#f0f0f0"/>`);
    out.push(`<text x="${margin.left + 4}" y="${top1 + 14}" fill="#888">warm-up</text>`);
  }

  // Axes and grid.
  gridLines(out, margin.left, plotW, rateMax, yRate, logMin, logMax, yP99, formatMsTick);
  const step = Math.max(1, niceCeil(seconds / 12));
  for (let s = 0; s <= seconds; s += step) {
    const xs = margin.left + (s / seconds) * plotW;
    for (const top of [top1, top2]) out.push(`<line x1="${xs.toFixed(1)}" x2="${xs.toFixed(1)}" y1="${top}" y2="${top + panelHeight}" stroke="#eee"/>`);
    out.push(`<text x="${xs.toFixed(1)}" y="${top2 + panelHeight + 16}" text-anchor="middle">${s}</text>`);
  }
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">seconds since the run started</text>`);
  out.push(`<text x="${margin.left}" y="${top1 - 6}" font-weight="bold">throughput (ops/s, every second)</text>`);
  out.push(`<text x="${margin.left}" y="${top2 - 6}" font-weight="bold">p99 latency per second (log scale; solid: write, dashed: read)</text>`);
  for (const top of [top1, top2]) out.push(`<rect x="${margin.left}" y="${top}" width="${plotW}" height="${panelHeight}" fill="none" stroke="#999"/>`);

  series.forEach((s, i) => {
    const color = colors[i % colors.length]!;
    out.push(polyline(s.timeline.map((p, j) => [x(j), yRate(total(p))]), color));
    for (const op of ['write', 'read'] as const) {
      const pts = s.timeline.flatMap((p, j) => (p.p99Us[op] === null ? [] : [[x(j), yP99(p.p99Us[op]!)] as [number, number]]));
      if (pts.length > 0) out.push(polyline(pts, color, op === 'read' ? '5,3' : ''));
    }
    s.timeline.forEach((p, j) => {
      if (p.errors > 0) {
        out.push(`<line x1="${x(j).toFixed(1)}" x2="${x(j).toFixed(1)}" y1="${top1 + panelHeight}" y2="${top1 + panelHeight - 10}" stroke="red" stroke-width="3"><title>${esc(s.label)}: ${p.errors} errors in second ${j}</title></line>`);
      }
    });
    const ly = top1 + 16 + i * 18;
    out.push(`<line x1="${margin.left + plotW + 12}" x2="${margin.left + plotW + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${margin.left + plotW + 42}" y="${ly}">${esc(s.label)}</text>`);
  });
  const ey = top1 + 16 + series.length * 18;
  out.push(`<line x1="${margin.left + plotW + 24}" x2="${margin.left + plotW + 24}" y1="${ey}" y2="${ey - 10}" stroke="red" stroke-width="3"/>`);
  out.push(`<text x="${margin.left + plotW + 42}" y="${ey}">errors that second</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * The horizontal grid of a two-panel timeline (the bench's and the chaos run's): operations per
 * second in the upper panel, a log-scale latency axis (one line per power of ten) in the lower.
 */
export function gridLines(out: string[], left: number, plotW: number, rateMax: number, yRate: (v: number) => number,
  logMin: number, logMax: number, yLog: (v: number) => number, logLabel: (v: number) => string): void {
  const line = (y: number, label: string) => {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label}</text>`);
  };
  for (let i = 0; i <= 4; i++) line(yRate((rateMax / 4) * i), Math.round((rateMax / 4) * i).toLocaleString('en-US'));
  for (let e = logMin; e <= logMax; e++) line(yLog(10 ** e), logLabel(10 ** e));
}

export function polyline(points: [number, number][], color: string, dash = '', widthPx = 1.8): string {
  const d = points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ');
  return `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="${widthPx}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

export function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function formatMsTick(us: number): string {
  const ms = us / 1000;
  return ms >= 1 ? `${ms.toLocaleString('en-US')} ms` : `${ms} ms`;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
