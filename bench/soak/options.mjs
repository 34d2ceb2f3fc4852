// The soak's settings: flags first, then HSMKMS_SOAK_* variables, then the
// defaults (10 minutes AND one million operations: it runs until both are
// reached, and at most --max-minutes).
import path from 'node:path';
import { RESULTS_DIR } from '../lib/common.mjs';

const USAGE = `usage: npm run soak -- [--minutes N | --seconds N] [--ops N] [--max-minutes N]
                     [--in-flight N] [--sample-seconds N] [--lifecycle-every N] [--out-dir DIR]
  --minutes/--seconds  least run time (default 10 min; HSMKMS_SOAK_SECONDS)
  --ops                least operations (default 1000000; HSMKMS_SOAK_OPS; 0 = time only)
  --max-minutes        stop here even if --ops is not reached (default 30)
  --in-flight          operations kept in flight (default 32)
  --sample-seconds     sampling interval (default 5)
  --lifecycle-every    operations between key replacements, and between rotations (default 20000)
  --out-dir            where soak.json and soak.md go (default bench/results)`;

function number(name, value) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0, got ${value}\n${USAGE}`);
  return n;
}

export function parseSoakOptions(argv = process.argv.slice(2), env = process.env) {
  const o = {
    seconds: env.HSMKMS_SOAK_SECONDS !== undefined ? number('seconds', env.HSMKMS_SOAK_SECONDS) : 600,
    ops: env.HSMKMS_SOAK_OPS !== undefined ? number('ops', env.HSMKMS_SOAK_OPS) : 1_000_000,
    maxSeconds: 30 * 60,
    inFlight: 32,
    sampleSeconds: 5,
    lifecycleEvery: 20_000,
    outDir: RESULTS_DIR,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    i++;
    if (flag === '--minutes') o.seconds = number('minutes', value) * 60;
    else if (flag === '--seconds') o.seconds = number('seconds', value);
    else if (flag === '--ops') o.ops = number('ops', value);
    else if (flag === '--max-minutes') o.maxSeconds = number('max-minutes', value) * 60;
    else if (flag === '--in-flight') o.inFlight = Math.max(1, Math.floor(number('in-flight', value)));
    else if (flag === '--sample-seconds') o.sampleSeconds = number('sample-seconds', value);
    else if (flag === '--lifecycle-every') o.lifecycleEvery = Math.floor(number('lifecycle-every', value));
    else if (flag === '--out-dir') o.outDir = path.resolve(value);
    else throw new Error(`unknown flag ${flag}\n${USAGE}`);
  }
  o.maxSeconds = Math.max(o.maxSeconds, o.seconds);
  o.quick = o.seconds < 600 || o.ops < 1_000_000;
  return o;
}
