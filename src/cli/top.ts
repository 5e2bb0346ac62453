// `kvc top` and `kvc state`'s text: the merged cluster view drawn as text. renderTop is pure (the
// view and a width in, lines out), so it is tested as text; runTop is the thin loop around it:
// the alternate screen, a redraw every second, `q` (or Ctrl-C) quits.
import { count } from '../core/text.js';
import type { ClusterView, View } from './cluster-state.js';

/** Redraw period of kvc top. */
export const topRedrawMs = 1_000;

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}
function ago(nowMs: number, ms: number | null): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}
function fixed(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '-' : x.toFixed(digits);
}
function cell(v: View | undefined): string {
  if (v === undefined || v.up === null) return '?';
  if (v.observer === v.subject) return 'self';
  if (!v.up) return v.refused ? 'REFUSED' : 'DOWN';
  return v.rttMs === null ? 'UP' : `UP ${fixed(v.rttMs, 1)}ms`;
}

/** The whole view as lines no wider than `cols`. */
export function renderTop(view: ClusterView, cols = 100): string {
  const names = view.replicas.map((r) => r.name);
  const width = Math.max(9, ...names.map((n) => n.length));
  const answered = view.replicas.length - view.unreachable.length;
  const find = (observer: string, subject: string) => view.views.find((v) => v.observer === observer && v.subject === subject);
  const lines: string[] = [];
  lines.push(`ringkv ${clock(view.atMs)}  ${count(view.replicas.length, 'replica')}, ${answered} answered` +
    `${view.unreachable.length > 0 ? `; no answer from ${view.unreachable.join(', ')}` : ''}`);
  lines.push(view.alarms.length === 0 ? 'alarms: none' : `ALARMS (${view.alarms.length}):`, ...view.alarms.map((a) => `  ! ${a}`));
  const short = view.ranges.filter((r) => r.down.length > 0);
  lines.push(short.length === 0 ? 'ring: every range has all its replicas up'
    : `ring: ${count(short.length, 'range')} short of replicas${short.some((r) => r.quorumLost) ? `, ${short.filter((r) => r.quorumLost).length} without a quorum` : ''}`);
  for (const r of view.ranges) {
    const reps = r.replicas.map((n) => (r.down.includes(n) ? `${n}!` : n).padEnd(width + 1)).join(' ');
    const mark = r.noLiveReplica ? 'NO LIVE REPLICA' : r.quorumLost ? 'QUORUM LOST' : r.down.length > 0 ? `short ${r.down.length}` : 'ok';
    lines.push(`  ${`${r.first}..${r.last}`.padEnd(9)} ${reps} ${mark}`);
  }
  lines.push('');
  lines.push('who sees whom (row: observer, column: subject)');
  lines.push(`  ${''.padEnd(width)}  ${names.map((n) => n.padEnd(width)).join('  ')}`);
  for (const a of view.replicas) {
    if (a.state === null) { lines.push(`  ${a.name.padEnd(width)}  no answer: ${a.error ?? 'unknown'}`); continue; }
    lines.push(`  ${a.name.padEnd(width)}  ${names.map((s) => cell(find(a.name, s)).padEnd(width)).join('  ')}`);
  }
  const downs = Object.entries(view.downBy);
  if (downs.length > 0) lines.push(...downs.map(([subject, by]) => `  DOWN ${subject}: seen DOWN by ${by.join(', ')}`));
  lines.push('');
  lines.push(`  ${'replica'.padEnd(width)}  ${'get/s'.padStart(7)} ${'put/s'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(6)}  ${'hints held'.padEnd(18)} anti-entropy (last round)`);
  for (const a of view.replicas) {
    const s = a.state;
    if (s === null) { lines.push(`  ${a.name.padEnd(width)}  -`); continue; }
    const f = s.figures;
    const errors = f === null ? '-' : String(Object.values(f.errors).reduce((n, x) => n + x, 0));
    const hints = view.views.filter((v) => v.observer === a.name && v.hintsHeld > 0).map((v) => `${v.subject} ${v.hintsHeld}`).join(', ') || 'none';
    const peers = view.views.filter((v) => v.observer === a.name && v.subject !== a.name);
    const lastRound = peers.reduce<number | null>((m, v) => (v.lastRepairMs !== null && (m === null || v.lastRepairMs > m) ? v.lastRepairMs : m), null);
    const rounds = peers.reduce((n, v) => n + v.antiEntropyRounds, 0);
    const disk = s.status.logWritable ? '' : '  DISK FULL';
    lines.push(`  ${a.name.padEnd(width)}  ${fixed(f?.requestsPerSecond.get).padStart(7)} ${fixed(f?.requestsPerSecond.put).padStart(7)} ` +
      `${fixed(f?.coordinatorP99Ms, 2).padStart(7)} ${errors.padStart(6)}  ${hints.padEnd(18)} ${count(rounds, 'round')} (${ago(view.atMs, lastRound)})${disk}`);
  }
  const slow = view.replicas.flatMap((a) => (a.state?.slow ?? []).map((s) => ({ ...s, node: a.name }))).sort((x, y) => y.atMs - x.atMs).slice(0, 5);
  if (slow.length > 0) {
    lines.push('');
    lines.push('slow requests (newest first)');
    for (const s of slow) {
      lines.push(`  ${clock(s.atMs)} ${s.node} ${s.op}${s.key === null ? '' : ` ${s.key}`}${s.level === null ? '' : ` ${s.level}`} ${s.durationMs} ms: ${s.outcome}`);
    }
  }
  return lines.map((l) => l.trimEnd()).map((l) => (l.length > cols ? `${l.slice(0, cols - 1)}…` : l)).join('\n');
}

export interface TopIo {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  /** One merged view, fetched fresh. */
  fetch(): Promise<ClusterView>;
}

/** Draws the view every topRedrawMs on the alternate screen until `q`, Ctrl-C or the input ends. */
export async function runTop(io: TopIo): Promise<void> {
  const { input, output } = io;
  output.write('\x1b[?1049h\x1b[?25l'); // alternate screen, cursor hidden
  if (input.isTTY) input.setRawMode(true);
  input.resume();
  let quit: () => void = () => {};
  const quitting = new Promise<void>((resolve) => { quit = resolve; });
  const onKey = (d: Buffer) => { if (d.includes(0x71) || d.includes(0x03)) quit(); }; // q, Ctrl-C
  input.on('data', onKey);
  input.on('end', () => quit());
  let done = false;
  void quitting.then(() => { done = true; });
  try {
    while (!done) {
      const view = await io.fetch();
      if (done) break;
      output.write(`\x1b[H\x1b[2J${renderTop(view, output.columns ?? 100)}\n\n(q quits; redrawn every ${topRedrawMs / 1000} s)`);
      await Promise.race([quitting, new Promise((r) => setTimeout(r, topRedrawMs))]);
    }
  } finally {
    input.off('data', onKey);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    output.write('\x1b[?25h\x1b[?1049l');
  }
}
