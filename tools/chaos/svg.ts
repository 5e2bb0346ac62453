// The run as one SVG in the manner of Jepsen's timelines: throughput per second by outcome above,
// latency below (p50, p99 and max of the successful operations each second, on a log scale, with
// every indeterminate operation as a dot), and each fault band shaded across both with its label.
import { esc, gridLines, niceCeil, polyline } from '../bench/svg.js';
import type { Op } from './history.js';
import type { FaultRecord } from './nemesis.js';
import type { SecondRow } from './timeline.js';

const width = 1000;
const panelHeight = 200;
const margin = { left: 70, right: 170, top: 96, gap: 60, bottom: 40 };
const bandColors: Record<string, string> = { kill: '#f4cccc', stop: '#fce5cd', pause: '#fff2cc', partition: '#d9d2e9', loss: '#cfe2f3' };
const outcomeColors = { ok: '#2ca02c', fail: '#ff7f0e', indeterminate: '#d62728' } as const;
/** Dots drawn for indeterminate operations at most (the rest are counted in the throughput panel). */
const dotsMax = 2_000;

export function chaosSvg(title: string, subtitle: string, rows: readonly SecondRow[], faults: readonly FaultRecord[], ops: readonly Op[]): string {
  const plotW = width - margin.left - margin.right;
  const height = margin.top + panelHeight * 2 + margin.gap + margin.bottom;
  const seconds = Math.max(1, rows.length);
  const xs = (s: number) => margin.left + (s / seconds) * plotW;
  const top1 = margin.top;
  const top2 = margin.top + panelHeight + margin.gap;
  const rateMax = niceCeil(rows.reduce((m, r) => Math.max(m, r.ops.ok, r.ops.fail, r.ops.indeterminate), 1));
  const yRate = (v: number) => top1 + panelHeight - (v / rateMax) * panelHeight;
  const lat = rows.flatMap((r) => [r.p50Ms, r.maxMs].filter((v): v is number => v !== null));
  const logMin = Math.floor(Math.log10(Math.max(0.01, lat.reduce((m, v) => Math.min(m, v), 1))));
  const slowest = ops.reduce((m, o) => (o.outcome === 'indeterminate' ? Math.max(m, o.completeMs - o.invokeMs) : m), 10);
  const logMax = Math.max(logMin + 1, Math.ceil(Math.log10(lat.reduce((m, v) => Math.max(m, v), slowest))));
  const yLat = (ms: number) => top2 + panelHeight - ((Math.log10(Math.max(ms, 10 ** logMin)) - logMin) / (logMax - logMin)) * panelHeight;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${margin.left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${margin.left}" y="38" font-size="11" fill="#333">${esc(subtitle)}</text>`);

  faults.forEach((f, i) => {
    const x1 = xs(f.startMs / 1000);
    const w = Math.max(1, xs(f.endMs / 1000) - x1);
    const fill = bandColors[f.kind] ?? '#eeeeee';
    for (const top of [top1, top2]) out.push(`<rect x="${x1.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="${panelHeight}" fill="${fill}"><title>${esc(f.label)}${f.error ? ` (${esc(f.error)})` : ''}</title></rect>`);
    // Three rows of short labels, so neighbouring bands do not write over each other.
    out.push(`<text x="${(x1 + 1).toFixed(1)}" y="${top1 - 6 - (i % 3) * 11}" font-size="9" fill="#555">${esc(shortLabel(f.label))}</text>`);
  });

  gridLines(out, margin.left, plotW, rateMax, yRate, logMin, logMax, yLat, (ms) => `${ms.toLocaleString('en-US')} ms`);
  const step = Math.max(1, niceCeil(seconds / 12));
  for (let s = 0; s <= seconds; s += step) out.push(`<text x="${xs(s).toFixed(1)}" y="${top2 + panelHeight + 16}" text-anchor="middle">${s}</text>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">seconds since the run started</text>`);
  out.push(`<text x="${margin.left}" y="${top1 - 42}" font-weight="bold">operations completed per second, by outcome (bands: faults in force)</text>`);
  out.push(`<text x="${margin.left}" y="${top2 - 8}" font-weight="bold">latency of successful operations (log; solid p50, dashed p99, dotted max; dots: indeterminate)</text>`);
  for (const top of [top1, top2]) out.push(`<rect x="${margin.left}" y="${top}" width="${plotW}" height="${panelHeight}" fill="none" stroke="#999"/>`);

  const mid = (s: number) => xs(s + 0.5);
  for (const k of ['ok', 'fail', 'indeterminate'] as const) out.push(polyline(rows.map((r) => [mid(r.second), yRate(r.ops[k])]), outcomeColors[k], '', 1.6));
  const latLine = (pick: (r: SecondRow) => number | null, dash: string) =>
    polyline(rows.flatMap((r) => { const v = pick(r); return v === null ? [] : [[mid(r.second), yLat(v)] as [number, number]]; }), '#1f77b4', dash, 1.6);
  out.push(latLine((r) => r.p50Ms, ''), latLine((r) => r.p99Ms, '5,3'), latLine((r) => r.maxMs, '1,3'));
  const dots = ops.filter((o) => o.phase === 'run' && o.outcome === 'indeterminate').slice(0, dotsMax);
  for (const o of dots) out.push(`<circle cx="${xs(o.completeMs / 1000).toFixed(1)}" cy="${yLat(o.completeMs - o.invokeMs).toFixed(1)}" r="2" fill="${outcomeColors.indeterminate}" fill-opacity="0.5"/>`);

  const legend: [string, string][] = [['ok', outcomeColors.ok], ['fail', outcomeColors.fail], ['indeterminate', outcomeColors.indeterminate]];
  legend.forEach(([label, color], i) => {
    const ly = top1 + 16 + i * 18;
    out.push(`<line x1="${margin.left + plotW + 12}" x2="${margin.left + plotW + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${margin.left + plotW + 42}" y="${ly}">${label}</text>`);
  });
  Object.entries(bandColors).forEach(([kind, fill], i) => {
    const ly = top2 + 16 + i * 18;
    out.push(`<rect x="${margin.left + plotW + 12}" y="${ly - 10}" width="24" height="12" fill="${fill}"/>`);
    out.push(`<text x="${margin.left + plotW + 42}" y="${ly}">${kind}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** "partition replica-1 | replica-2, replica-3" -> "partition r1 | r2,r3". */
function shortLabel(label: string): string {
  return label.replace(/replica-/g, 'r').replace(/, /g, ',').replace('one-way partition: ', '1-way ').replace(' cannot reach ', '->').replace(' packet loss', ' loss');
}
