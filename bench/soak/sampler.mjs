// One sample of the process: memory (RSS, V8 heap, memory outside the heap),
// open file descriptors, live secure-memory blocks, and the HSM objects.
import { readdirSync } from 'node:fs';

/** Open file descriptors of this process (the listing's own fd included, always 1). */
export function openFds() {
  return readdirSync('/proc/self/fd').length;
}

/** Samples `ops()` operations done against the object counter and the AEAD engine's stats. */
export function makeSampler({ t0, ops, counter, aead }) {
  return async () => {
    const objects = await counter.sample();
    const m = process.memoryUsage();
    return {
      tSec: (performance.now() - t0) / 1000,
      ops: ops(),
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      fds: openFds(),
      secureBlocks: aead.secureMemoryStats().liveBlocks,
      ...objects,
    };
  };
}
