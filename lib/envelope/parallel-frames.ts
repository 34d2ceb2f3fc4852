/**
 * How many frames go to the worker pool at once, and a runner that keeps
 * that many in flight. Every started frame settles before the runner
 * returns, so a failure never races the wipe of a key or buffer.
 */
import { aead } from '../aead.js';

/** Frame bytes in flight by default (a stream's memory bound is about twice this). */
const DEFAULT_BYTES_IN_FLIGHT = 2 * 1024 * 1024;

/**
 * Default frames in flight on the pool: about 2 MiB of frames, and never
 * fewer than keep every AES thread busy. A frame's round trip to the pool
 * and back through the event loop costs far more than its AES, so a narrow
 * window leaves the threads idle: 6 frames of 64 KiB ran at about half the
 * speed of 32 (measured with bench/envelope's streams).
 */
export function defaultFramesInFlight(frameLength: number): number {
  const floor = aead.settings().threads * 2 + 2;
  return Math.max(floor, Math.min(64, Math.floor(DEFAULT_BYTES_IN_FLIGHT / Math.max(frameLength, 1))));
}

/** Runs job(0..count-1) with at most defaultFramesInFlight(frameLength) running; rethrows the first failure. */
export async function runFramesInParallel(count: number, frameLength: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (next < count && failure === undefined) {
      const i = next++;
      try {
        await job(i);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, defaultFramesInFlight(frameLength)) }, lane));
  if (failure !== undefined) throw failure;
}

/**
 * Plaintext bytes in one run of regular frames (one native call, cut across
 * the pool's threads). 512 KiB, not 1 MiB: the speed is the same within
 * noise, and a 1 GiB encrypt -> decrypt pipeline peaked at 135-152 MiB RSS
 * with 1 MiB runs (4 MiB in flight) against 108-123 MiB with 512 KiB runs
 * (2 MiB in flight): a run's output is one buffer, and big buffers pile up
 * between collections.
 */
const RUN_BYTES = 512 * 1024;
/** Run bytes in flight by default: enough to keep every thread busy while the event loop fills the next run. */
const RUN_BYTES_IN_FLIGHT = 2 * 1024 * 1024;

/** How a stream groups regular frames: frames per run, and runs in flight at once. */
export interface RunPlan {
  readonly framesPerRun: number;
  readonly runsInFlight: number;
}

/**
 * Runs of about 512 KiB of plaintext, about 2 MiB of them in flight. A
 * caller's `maxFramesInFlight` still bounds frames in flight: runs shrink to
 * fit it. Frames over 256 KiB go one per run, as many as frames went before.
 */
export function planRuns(frameLength: number, maxFramesInFlight: number | undefined): RunPlan {
  const perRun = Math.max(1, Math.floor(RUN_BYTES / Math.max(frameLength, 1)));
  if (maxFramesInFlight !== undefined) {
    const framesPerRun = Math.min(perRun, maxFramesInFlight);
    return { framesPerRun, runsInFlight: Math.max(1, Math.floor(maxFramesInFlight / framesPerRun)) };
  }
  if (perRun === 1) return { framesPerRun: 1, runsInFlight: defaultFramesInFlight(frameLength) };
  return { framesPerRun: perRun, runsInFlight: Math.max(2, Math.ceil(RUN_BYTES_IN_FLIGHT / (perRun * frameLength))) };
}
