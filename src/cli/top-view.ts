// `kvc top`: the cluster snapshot as text, redrawn every second. renderTop is pure (snapshot, time and
// width in, lines out), so the view is tested as text; the loop that polls and draws is in kvc.ts.
import type { ClusterSnapshot, ReplicaView } from './cluster-snapshot.js';

/** Client requests proper: `status` is left out, since this view's own polls are status requests. */
const requestKinds = ['get', 'put', 'del', 'local', 'repair'];

export function requestRate(r: ReplicaView): number | null {
  return r.rates === null ? null : requestKinds.reduce((n, k) => n + (r.rates![k] ?? 0), 0);
}
export function errorRate(r: ReplicaView): number | null {
  return r.rates === null ? null : Object.entries(r.rates).filter(([k]) => k.startsWith('fail:')).reduce((n, [, v]) => n + v, 0);
}
/** Refusals (fail replies) since the replica started, by error: "Unavailable 3, Timeout 1". */
export function errorsText(r: ReplicaView): string {
  const fails = Object.entries(r.status?.clientReplies ?? {}).filter(([k, n]) => k.startsWith('fail:') && n > 0);
  return fails.length === 0 ? '0' : fails.map(([k, n]) => `${k.slice('fail:'.length)} ${n}`).join(', ');
}

export function agoText(atMs: number | null, nowMs: number): string {
  if (atMs === null) return 'never';
  const s = Math.max(0, Math.round((nowMs - atMs) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function rate(n: number | null): string {
  return n === null ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => (indent + r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).trimEnd());
}

/** The whole view, one string per screen line, each cut to `cols`. */
export function renderTop(s: ClusterSnapshot, opts: { cols?: number; nowMs?: number } = {}): string[] {
  const cols = opts.cols ?? 120;
  const nowMs = opts.nowMs ?? s.atMs;
  const names = s.replicas.map((r) => r.name);
  const lines: string[] = [];
  const answered = s.replicas.filter((r) => r.status !== null).length;
  lines.push(`ringkv top: ${s.replicas.length} replicas (${answered} answering), RF ${s.replicationFactor}, DOWN after ${s.downAfterMs} ms, `
    + `at ${new Date(s.atMs).toISOString().slice(11, 19)} UTC   q quits`);

  lines.push('', s.alarms.length === 0 ? 'ALARMS: none' : 'ALARMS:', ...s.alarms.map((a) => `  ! ${a}`));

  lines.push('', 'ring (ranges short of replicas marked; * = DOWN in most replicas\' view):');
  if (s.ring.length === 0) lines.push('  unknown: no replica answered');
  else {
    lines.push(...table([['range', 'replicas', 'health'], ...s.ring.map((r) => [
      `${r.first}..${r.last}`,
      r.replicas.map((n) => (r.down.includes(n) ? `${n}*` : n)).join(' '),
      r.health === 'ok' ? 'ok' : `${r.health === 'short' ? 'SHORT' : r.health === 'no-quorum' ? 'NO QUORUM' : 'UNAVAILABLE'} (${r.replicas.length - r.down.length} of ${r.replicas.length} live)`,
    ])]));
  }

  lines.push('', 'who sees whom (row: observer, column: the replica it sees):');
  const matrix = table([['', ...names], ...s.replicas.map((r) => [r.name, ...names.map((n) => (n === r.name ? '-' : s.seen[r.name]?.[n] ?? '?'))])]);
  lines.push(matrix[0]!, ...s.replicas.map((r, i) => (r.status === null ? `${matrix[i + 1]}  unreachable: ${r.error ?? ''}` : matrix[i + 1]!)));

  const withLatency = s.replicas.some((r) => r.latency !== undefined);
  lines.push('', 'replicas:');
  lines.push(...table([
    ['name', 'state', 'poll ms', 'req/s', 'err/s', ...(withLatency ? ['p50 ms', 'p99 ms'] : []), 'errors', 'in flight', 'keys', 'log'],
    ...s.replicas.map((r) => {
      const st = r.status;
      const state = st === null ? 'UNREACHABLE' : s.down.includes(r.name) ? 'DOWN' : !st.logWritable ? 'DISK FULL' : 'UP';
      return [
        r.name, state, r.pollMs === null ? '-' : r.pollMs.toFixed(1), rate(requestRate(r)), rate(errorRate(r)),
        ...(withLatency ? [r.latency?.p50Ms.toFixed(2) ?? '-', r.latency?.p99Ms.toFixed(2) ?? '-'] : []),
        st === null ? '-' : errorsText(r), st === null ? '-' : String(st.clientRequestsInFlight),
        st === null ? '-' : String(st.keysStored), st === null ? '-' : `${st.logBytes} B / ${st.logRecords} rec`,
      ];
    }),
  ]));

  const hints = s.pairs.filter((p) => p.hintsPending > 0 || p.hintsExpired > 0);
  lines.push('', hints.length === 0 ? 'hints pending: none' : 'hints pending (holder -> for):',
    ...hints.map((p) => `  ${p.holder} -> ${p.peer}: ${p.hintsPending} pending${p.hintsExpired > 0 ? `, ${p.hintsExpired} EXPIRED (repair ${p.peer})` : ''}`));

  if (s.antiEntropyIntervalMs === 0 && s.pairs.every((p) => p.aeRounds === 0)) lines.push('', 'anti-entropy: off (anti_entropy_interval_ms = 0; kvc repair runs a round)');
  else {
    lines.push('', `anti-entropy (every ${s.antiEntropyIntervalMs} ms; last round, rounds, keys sent/received):`);
    for (const r of s.replicas) {
      const mine = s.pairs.filter((p) => p.holder === r.name && (p.aeRounds > 0 || p.aeKeysSent + p.aeKeysReceived > 0));
      if (r.status === null) continue;
      lines.push(`  ${r.name}: ${mine.length === 0 ? 'no round finished yet' : mine.map((p) => `${p.peer} ${agoText(p.aeLastRoundMs, nowMs)} (${p.aeRounds}, ${p.aeKeysSent}/${p.aeKeysReceived})`).join('; ')}`);
    }
  }

  const traces = s.replicas.flatMap((r) => (r.slowTraces ?? []).map((t) => ({ ...t, node: r.name })));
  if (traces.length > 0) {
    lines.push('', 'slow traces:', ...traces.sort((a, b) => b.atMs - a.atMs).slice(0, 5)
      .map((t) => `  ${t.node} ${agoText(t.atMs, nowMs)} ${t.elapsedMs.toFixed(1)} ms ${t.summary} (${t.id})`));
  }
  return lines.map((l) => (l.length > cols ? l.slice(0, Math.max(0, cols - 1)) + '…' : l));
}
