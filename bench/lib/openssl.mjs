// Runs the system `openssl speed` for AES-256-GCM and parses its
// machine-readable (-mr) output.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const OPENSSL = process.env.OPENSSL_BIN || 'openssl';

/** `openssl version` of the binary used, or null when there is none. */
export function opensslCliVersion() {
  try {
    return execFileSync(OPENSSL, ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/**
 * One `openssl speed -elapsed -mr -evp aes-256-gcm -bytes SIZE -seconds S`
 * (with `-multi N` and/or `-aead` when asked). `-elapsed` divides by wall time
 * as the Node cases do (the default divides by CPU user time). Without
 * `-aead` the loop is EVP_EncryptUpdate on one buffer (no IV, no tag per
 * message); with it, each message is init(IV) + AAD + update + final + tag.
 */
export async function opensslSpeed({ size, seconds, multi = 0, aead = false }) {
  const args = ['speed', '-elapsed', '-mr'];
  if (multi > 1) args.push('-multi', String(multi));
  if (aead) args.push('-aead');
  args.push('-evp', 'aes-256-gcm', '-bytes', String(size), '-seconds', String(seconds));
  const { stdout, stderr } = await run(OPENSSL, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  // With -multi every child's "+F" line is echoed as "Got: +F:... from i"; the
  // line without the prefix is the sum over children.
  const total = `${stdout}\n${stderr}`
    .split('\n')
    .filter((line) => line.startsWith('+F:'))
    .pop();
  if (!total) throw new Error(`cannot parse openssl speed output:\n${stdout}\n${stderr}`);
  const bytesPerSec = Number(total.split(':')[3]);
  return { command: `openssl ${args.join(' ')}`, bytesPerSec, opsPerSec: bytesPerSec / size };
}
