import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextGeneration } from '../../src/io/generation.js';

describe('io/generation', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ringkv-gen-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('follows the wall clock when it moves forward', async () => {
    expect(await nextGeneration(dir, 1_000)).to.deep.equal({ generation: 1_000, previous: null });
    expect(await nextGeneration(dir, 5_000)).to.deep.equal({ generation: 5_000, previous: 1_000 });
    expect((await readFile(join(dir, 'generation'), 'utf8')).trim()).to.equal('5000');
  });

  it('still grows when the clock stepped back across a restart', async () => {
    expect((await nextGeneration(dir, 9_000)).generation).to.equal(9_000);
    expect((await nextGeneration(dir, 2_000)).generation).to.equal(9_001);
    expect(await nextGeneration(dir, 9_001)).to.deep.equal({ generation: 9_002, previous: 9_001 });
  });

  it('starts from the clock when the file is missing or unreadable', async () => {
    await (await import('node:fs/promises')).writeFile(join(dir, 'generation'), 'garbage');
    expect(await nextGeneration(dir, 3_000)).to.deep.equal({ generation: 3_000, previous: 3_000 });
  });
});
