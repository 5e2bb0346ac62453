// Loaded into a replica that --profile-alloc runs by hand (node --import tsx --import this file):
// the first SIGUSR2 starts sampling allocations, the next writes the profile to $RINGKV_ALLOC_PROFILE.
import { renameSync, writeFileSync } from 'node:fs';
import { AllocSampler } from './alloc-sampler.js';

const out = process.env.RINGKV_ALLOC_PROFILE;
if (out === undefined || out === '') throw new Error('alloc-preload: RINGKV_ALLOC_PROFILE must name the file to write');
let sampler: AllocSampler | null = null;
process.on('SIGUSR2', () => {
  if (sampler === null) {
    sampler = new AllocSampler();
    sampler.start();
    return;
  }
  // Whole or not at all: the bench reads the file as soon as it exists.
  writeFileSync(`${out}.part`, JSON.stringify(sampler.stop()));
  renameSync(`${out}.part`, out);
  sampler = null;
});
