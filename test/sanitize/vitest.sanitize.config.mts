// The vitest configuration of the sanitizer runs (scripts/test-sanitize.sh):
// the project's own, plus a leak check at the end of each test file
// (check-leaks-after-file.ts), and at least two forks at a time: vitest's
// default (cores - 1) runs one at a time on a 2-core CI machine, and a
// sanitized fork keeps about one core busy.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vitest/config';
import base from '../../vitest.config.mts';

export default mergeConfig(base, {
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    setupFiles: [fileURLToPath(new URL('check-leaks-after-file.ts', import.meta.url))],
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
  },
});
