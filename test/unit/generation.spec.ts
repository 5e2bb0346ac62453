import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextGeneration, recordCleanStop } from '../../src/io/generation.js';

describe('io/generation', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ringkv-gen-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('follows the wall clock when it moves forward', async () => {
    expect(await nextGeneration(dir, 1_000)).to.deep.equal({ generation: 1_000, previous: null, previousStoppedAtMs: null });
    expect(await nextGeneration(dir, 5_000)).to.deep.equal({ generation: 5_000, previous: 1_000, previousStoppedAtMs: null });
    expect((await readFile(join(dir, 'generation'), 'utf8')).trim()).to.equal('5000');
  });

  it('still grows when the clock stepped back across a restart', async () => {
    expect((await nextGeneration(dir, 9_000)).generation).to.equal(9_000);
    expect((await nextGeneration(dir, 2_000)).generation).to.equal(9_001);
    expect(await nextGeneration(dir, 9_001)).to.deep.equal({ generation: 9_002, previous: 9_001, previousStoppedAtMs: null });
  });

  it('hands the next start the clean stop of the last process only: a crash after an earlier clean stop leaves none', async () => {
    const first = (await nextGeneration(dir, 1_000)).generation;
    await recordCleanStop(dir, first, 1_500.2);
    expect(await nextGeneration(dir, 2_000)).to.deep.equal({ generation: 2_000, previous: 1_000, previousStoppedAtMs: 1_501 });
    // generation 2000 is killed: it records nothing, and 1000's record is not its own.
    expect(await nextGeneration(dir, 3_000)).to.deep.equal({ generation: 3_000, previous: 2_000, previousStoppedAtMs: null });
  });

  it('starts from the clock when the file is missing or unreadable', async () => {
    await (await import('node:fs/promises')).writeFile(join(dir, 'generation'), 'garbage');
    expect(await nextGeneration(dir, 3_000)).to.deep.equal({ generation: 3_000, previous: 3_000, previousStoppedAtMs: null });
  });
});
