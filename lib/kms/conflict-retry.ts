/**
 * Optimistic concurrency, the caller's side: a read-decide-write step that
 * lost to a concurrent change (ConflictException) is run again from a fresh
 * read. Many nodes changing one key at once each win in turn, so the budget
 * is generous and the retries back off with jitter (no lock-step replays).
 */
import type { KmsError } from '../errors.js';

const MAX_ATTEMPTS = 64;
const BACKOFF_STEP_MS = 2;
const MAX_BACKOFF_MS = 50;

/** Runs `step` until it does not fail with ConflictException (at most {@link MAX_ATTEMPTS} times). */
export async function retryOnConflict<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if ((error as KmsError).code !== 'ConflictException' || attempt >= MAX_ATTEMPTS) throw error;
      const ceiling = Math.min(MAX_BACKOFF_MS, BACKOFF_STEP_MS * attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
