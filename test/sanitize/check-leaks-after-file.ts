// Sanitizer runs only (test/sanitize/vitest.sanitize.config.mts): after each
// test file, its fork asks LeakSanitizer for a check through a test-only
// shim. vitest ends its forks with SIGTERM, and a process killed by a signal
// never runs LeakSanitizer's exit-time check. The report goes to log_path,
// where scripts/sanitizer-report.mjs reads it with all the others.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll } from 'vitest';

const shim = path.resolve(__dirname, '../../build-sanitize/lsan-check-shim.node');
const { leakCheck } = createRequire(__filename)(shim) as { leakCheck(): boolean };

// A check stops every thread and scans the heap: seconds in a big fork.
afterAll(() => void leakCheck(), 120_000);
