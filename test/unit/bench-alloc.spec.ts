import { expect } from 'chai';
import { AllocSampler } from '../../tools/bench/alloc-sampler.js';
import { allocText, summarizeAlloc } from '../../tools/bench/alloc.js';

/**
 * 4,000 arrays of 256 small integers (~2 KB each on the JS heap): about 8 MB that the GC is free to
 * collect at once. (Not typed arrays: their contents live outside the JS heap, which the profiler samples.)
 */
function allocateGarbage(): number {
  let sum = 0;
  for (let i = 0; i < 4_000; i++) {
    const a = new Array<number>(256).fill(i);
    sum += a[i % 256]!;
  }
  return sum;
}

describe('bench --profile-alloc: bytes allocated per operation, by function', () => {
  it('counts garbage the GC already collected, within a tenth of what was allocated, under the function that allocated it', () => {
    const sampler = new AllocSampler();
    sampler.start();
    allocateGarbage();
    const summary = summarizeAlloc('test', sampler.stop(), 4_000);
    const expected = 4_000 * 256 * 8;
    const inFunction = summary.functions.find((f) => f.fn === 'allocateGarbage');
    expect(inFunction, JSON.stringify(summary.functions.slice(0, 3))).to.not.equal(undefined);
    expect(inFunction!.bytes).to.be.within(expected * 0.9, expected * 1.15);
    expect(inFunction!.bytesPerOp).to.be.within(2048 * 0.9, 2048 * 1.15);
    expect(inFunction!.where).to.match(/^test\/unit\/bench-alloc\.spec\.ts:\d+$/);
  });

  it('prints each process per operation, their sum, and where each one allocates', () => {
    const profile = { head: { callFrame: { functionName: '(root)', url: '', lineNumber: 0 }, selfSize: 0, children: [
      { callFrame: { functionName: 'encode', url: 'file:///x/node_modules/cbor-x/encode.js', lineNumber: 9 }, selfSize: 3_072_000, children: [] },
    ] } };
    const text = allocText([summarizeAlloc('replica-1', profile, 1_000), summarizeAlloc('client (bench)', profile, 1_000)], 1_000);
    expect(text).to.match(/replica-1\s+3\.00 KB\s+3\.1 MB/);
    expect(text).to.match(/all processes\s+6\.00 KB/);
    expect(text).to.match(/3\.00 KB\s+100\.0\s+encode\s+cbor-x\/encode\.js:10/);
  });
});
