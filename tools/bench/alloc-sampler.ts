// V8's sampling heap profiler in this process, keeping the samples of objects already collected:
// an estimate of every byte allocated while it runs. Imports nothing else, so that loading it into a
// replica (alloc-preload.ts) adds no module of the bench to the process it measures.
import { Session } from 'node:inspector';

/** Mean bytes between two samples: small enough that a put's few KB get several samples each. */
export const allocSamplingIntervalBytes = 1024;

interface SamplingNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: SamplingNode[] }
export interface SamplingProfile { head: SamplingNode }

/** Sampling in this process; `stop` returns the profile of what was allocated since `start`. */
export class AllocSampler {
  private readonly session = new Session();

  start(): void {
    this.session.connect();
    // An in-process session answers synchronously: sampling runs once post returns.
    this.session.post('HeapProfiler.startSampling', {
      samplingInterval: allocSamplingIntervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    });
  }

  stop(): SamplingProfile {
    let profile: SamplingProfile | null = null;
    let failure: Error | null = null;
    this.session.post('HeapProfiler.stopSampling', (err, res) => {
      if (err) failure = err;
      else profile = res.profile as SamplingProfile;
    });
    this.session.disconnect();
    if (failure !== null) throw failure;
    if (profile === null) throw new Error('alloc: the heap profiler gave no profile');
    return profile;
  }
}
