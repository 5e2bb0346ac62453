// --compare REF: the same benchmark against another commit and the working tree, interleaved
// (REF, tree, REF, tree, …) on the same machine, so that a regression shows up side by side in one
// command. REF is checked out into a temporary git worktree; each side runs its OWN bench
// (tools/bench.ts of that tree, with its own client library and build), since the wire protocol
// may differ between the two. Each run writes its figures with --json; this file reads them back.
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked } from './children.js';
import { onCleanup } from './cleanup.js';
import { repoRoot, run } from './cluster.js';
import type { RunResult } from './driver.js';
import { formatMs, formatRate, table } from './report.js';

/** Options of the parent that the children must not see: the comparison's own, and the parent's outputs. */
const parentOnly = ['compare', 'rounds', 'json', 'svg', 'progress'] as const;

/** One run's figures, as the comparison tabulates them (larger is better for rates, smaller for latencies). */
export type Figures = Record<string, number>;

export interface Side { label: string; tree: string; runs: Figures[] }

export interface CompareResult {
  ref: string;
  commit: string;
  rounds: number;
  a: Side;
  b: Side;
  /** Per figure: the median of each side, and of the per-round ratios b/a with their min and max. */
  rows: CompareRow[];
}

export interface CompareRow { figure: string; a: number[]; b: number[]; aMedian: number; bMedian: number; ratio: { median: number; min: number; max: number } | null }

/**
 * The parent's arguments minus the options only the parent understands, in both spellings
 * (`--name value`, `--name=value`) and the negated form yargs accepts (`--no-progress`).
 */
export function childArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = /^--(?:no-)?([^=]+)/.exec(arg)?.[1];
    if (name === undefined || !(parentOnly as readonly string[]).includes(name)) {
      out.push(arg);
      continue;
    }
    const takesValue = name !== 'progress' && !arg.includes('=') && !arg.startsWith('--no-');
    if (takesValue && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) i++;
  }
  return out;
}

/** What one bench report gives the comparison: every op's rate and latencies, each baseline's rate and ours over it. */
export function figuresOf(report: { runs?: Record<string, RunResult>; scenario?: { medianOpsPerSec?: number } }): Figures {
  const f: Figures = {};
  if (report.scenario?.medianOpsPerSec !== undefined) f['shell ops/s'] = report.scenario.medianOpsPerSec;
  const ours = report.runs?.ringkv;
  if (ours === undefined) return f;
  for (const op of ours.ops) {
    f[`${op.op} ops/s`] = op.opsPerSec;
    f[`${op.op} p50`] = op.latencyUs.p50;
    f[`${op.op} p99`] = op.latencyUs.p99;
    if (op.errorCount > 0) f[`${op.op} errors`] = op.errorCount;
  }
  for (const [name, base] of Object.entries(report.runs ?? {})) {
    if (name === 'ringkv') continue;
    f[`${name} ops/s`] = base.total.opsPerSec;
    if (base.total.opsPerSec > 0) f[`ringkv / ${name}`] = ours.total.opsPerSec / base.total.opsPerSec;
  }
  return f;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Pairs round i of b with round i of a: the machine's drift over the runs touches both alike. */
export function compareRows(a: readonly Figures[], b: readonly Figures[]): CompareRow[] {
  const names = [...new Set([...a, ...b].flatMap((f) => Object.keys(f)))];
  return names.map((figure) => {
    const av = a.map((f) => f[figure]).filter((x): x is number => x !== undefined);
    const bv = b.map((f) => f[figure]).filter((x): x is number => x !== undefined);
    const pairs = a.flatMap((fa, i) => {
      const x = fa[figure], y = b[i]?.[figure];
      return x !== undefined && y !== undefined && x !== 0 ? [y / x] : [];
    });
    return {
      figure, a: av, b: bv, aMedian: av.length > 0 ? median(av) : NaN, bMedian: bv.length > 0 ? median(bv) : NaN,
      ratio: pairs.length > 0 ? { median: median(pairs), min: Math.min(...pairs), max: Math.max(...pairs) } : null,
    };
  });
}

function formatFigure(figure: string, v: number): string {
  if (Number.isNaN(v)) return '-';
  if (/ p\d+$/.test(figure)) return formatMs(v); // latencies are kept in µs, as the reports hold them
  if (figure.startsWith('ringkv / ')) return `${v.toFixed(2)}x`;
  return formatRate(v);
}

export function compareText(r: CompareResult): string {
  const each = (figure: string, vs: number[]) => `${formatFigure(figure, median(vs))} (${vs.map((v) => formatFigure(figure, v)).join(' / ')})`;
  const rows = r.rows.map((row) => [
    row.figure,
    row.a.length > 0 ? each(row.figure, row.a) : '-',
    row.b.length > 0 ? each(row.figure, row.b) : '-',
    row.ratio === null ? '-' : `${row.ratio.median.toFixed(2)}x (${row.ratio.min.toFixed(2)}–${row.ratio.max.toFixed(2)})`,
  ]);
  return [
    `ringkv bench --compare: ${r.a.label} (${r.commit.slice(0, 12)}) against ${r.b.label}, ${r.rounds} rounds interleaved; median (each run), ratio = ${r.b.label} / ${r.a.label} per round`,
    ...table([['figure', r.a.label, r.b.label, 'ratio (min–max)'], ...rows]),
  ].join('\n');
}

/** REF checked out in a temporary worktree, with node_modules shared when the lock files agree, else installed. */
async function checkout(ref: string, log: (line: string) => void): Promise<{ commit: string; tree: string }> {
  let commit: string;
  try {
    commit = (await run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: repoRoot })).trim();
  } catch {
    throw new Error(`--compare: ${ref} is not a commit of ${repoRoot}`);
  }
  const tree = join(mkdtempSync(join(tmpdir(), 'ringkv-compare-')), 'tree');
  await run('git', ['worktree', 'add', '--detach', '--quiet', tree, commit], { cwd: repoRoot });
  onCleanup({
    what: `git worktree remove ${tree}`,
    run: () => run('git', ['worktree', 'remove', '--force', tree], { cwd: repoRoot }).then(() => undefined),
    runSync: () => { /* a left-over worktree is pruned by the next `git worktree prune` */ },
  });
  if (!existsSync(join(tree, 'tools', 'bench.ts'))) throw new Error(`--compare: ${ref} has no tools/bench.ts to run`);
  const lock = (dir: string) => readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (lock(tree) === lock(repoRoot)) {
    symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
  } else {
    log(`${ref}'s package-lock.json differs from the working tree's: npm ci in ${tree}`);
    await run('npm', ['ci', '--no-audit', '--no-fund', '--silent'], { cwd: tree, timeoutMs: 600_000 });
  }
  return { commit, tree };
}

/** One bench process in `tree`: its figures, read back from the report it wrote. */
async function benchOnce(side: Side, args: string[], round: number, log: (line: string) => void): Promise<Figures> {
  const json = join(tmpdir(), `ringkv-compare-${process.pid}-${side.label.replace(/\W/g, '_')}-${round}.json`);
  const child = spawnTracked(`bench (${side.label}, round ${round})`, process.execPath, ['--import', 'tsx', join(side.tree, 'tools', 'bench.ts'), ...args, '--no-progress', '--json', json], { cwd: side.tree });
  const code = await child.exited;
  if (code !== 0) throw new Error(`--compare: the bench of ${side.label} (round ${round}) exited with ${code}:\n${child.output().trim().split('\n').slice(-15).join('\n')}`);
  const figures = figuresOf(JSON.parse(readFileSync(json, 'utf8')) as Parameters<typeof figuresOf>[0]);
  log(`round ${round}, ${side.label}: ${Object.entries(figures).map(([k, v]) => `${k} ${formatFigure(k, v)}`).join(', ')}`);
  return figures;
}

export async function compareBuilds(ref: string, rounds: number, argv: readonly string[], log: (line: string) => void): Promise<CompareResult> {
  const { commit, tree } = await checkout(ref, log);
  const a: Side = { label: ref, tree, runs: [] };
  const b: Side = { label: 'working tree', tree: repoRoot, runs: [] };
  const args = childArgs(argv);
  log(`comparing ${ref} (${commit.slice(0, 12)}, in ${tree}) with the working tree: ${rounds} rounds of \`npm run bench -- ${args.join(' ')}\``);
  for (let round = 1; round <= rounds; round++) {
    for (const side of [a, b]) side.runs.push(await benchOnce(side, args, round, log));
  }
  return { ref, commit, rounds, a, b, rows: compareRows(a.runs, b.runs) };
}
