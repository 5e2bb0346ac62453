import { expect } from 'chai';
import { childArgs, compareRows, compareText, figuresOf } from '../../tools/bench/compare.js';
import type { RunResult } from '../../tools/bench/driver.js';

const latencyUs = (p50: number, p99: number) => ({ p50, p95: p99, p99, p999: p99, max: p99, mean: p50 });

function run(target: string, opsPerSec: number, p50 = 500, p99 = 2_000): RunResult {
  return {
    target, lanes: [], concurrency: 64, warmupS: 2, windowS: 10,
    ops: [{ op: 'write', count: opsPerSec * 10, opsPerSec, latencyUs: latencyUs(p50, p99), errorCount: 0, errors: {} }],
    total: { count: opsPerSec * 10, opsPerSec, errorCount: 0 },
    processes: [], machine: {} as RunResult['machine'], rssMb: {}, windowMonoUs: { start: 0, end: 1 }, timeline: [], notes: {},
  } as unknown as RunResult;
}

describe('bench --compare: the same bench against a git ref and the working tree', () => {
  it('passes the children every option but its own and the outputs, in every spelling yargs takes', () => {
    expect(childArgs(['--start', '--compare', 'main~3', '--workload', 'W', '--rounds=5', '--json', 'out.json', '--no-progress', '--cl', 'QUORUM']))
      .to.deep.equal(['--start', '--workload', 'W', '--cl', 'QUORUM']);
    expect(childArgs(['--compare=eb1a102', '--svg=a.svg', '--progress', '--duration', '4'])).to.deep.equal(['--duration', '4']);
    // A flag whose name only starts like one of ours is the child's.
    expect(childArgs(['--start', '--rounds-x', '2'])).to.deep.equal(['--start', '--rounds-x', '2']);
  });

  it('takes each op\'s rate and latencies from a report, and ringkv over each baseline of the same run', () => {
    const f = figuresOf({ runs: { ringkv: run('ringkv', 6_000, 400, 3_000), 'limit-durable': run('limit-durable', 10_000) } });
    expect(f).to.deep.equal({ 'write ops/s': 6_000, 'write p50': 400, 'write p99': 3_000, 'limit-durable ops/s': 10_000, 'ringkv / limit-durable': 0.6 });
    expect(figuresOf({ scenario: { medianOpsPerSec: 1_250 } })).to.deep.equal({ 'shell ops/s': 1_250 });
  });

  it('pairs round i of one side with round i of the other, so the ratio is taken between neighbouring runs', () => {
    const a = [{ 'write ops/s': 1_000 }, { 'write ops/s': 2_000 }, { 'write ops/s': 1_500 }];
    const b = [{ 'write ops/s': 1_100 }, { 'write ops/s': 2_600 }, { 'write ops/s': 1_500 }];
    const [row] = compareRows(a, b);
    expect(row!.aMedian).to.equal(1_500);
    expect(row!.bMedian).to.equal(1_500);
    expect(row!.ratio!.min).to.equal(1);
    expect(row!.ratio!.median).to.be.closeTo(1.1, 1e-9);
    expect(row!.ratio!.max).to.be.closeTo(1.3, 1e-9);
  });

  it('shows a figure only one side has without a ratio, and prints every run beside the median', () => {
    const rows = compareRows([{ 'write ops/s': 1_000, 'write p50': 400 }], [{ 'write ops/s': 900, 'write p50': 500, 'write errors': 3 }]);
    const text = compareText({ ref: 'main', commit: '0123456789abcdef', rounds: 1, a: { label: 'main', tree: '/t', runs: [] }, b: { label: 'working tree', tree: '/w', runs: [] }, rows });
    expect(text).to.match(/write ops\/s\s+1,000 \(1,000\)\s+900 \(900\)\s+0\.90x \(0\.90–0\.90\)/);
    expect(text).to.match(/write errors\s+-\s+3 \(3\)\s+-/);
    expect(text).to.match(/write p50\s+0\.400 ms \(0\.400 ms\)\s+0\.500 ms \(0\.500 ms\)\s+1\.25x/);
  });
});
