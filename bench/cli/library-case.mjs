// One library case of bench/cli, in a fresh process like the CLI's own runs:
//   node library-case.mjs encrypt|decrypt <kms dir> <key id> <from> <to> <bytes>
// Times the stream only (after Kms.open), file to file, flushed to disk as
// the CLI flushes its output; prints the seconds.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MiB, loadHsmkms } from '../lib/common.mjs';

const [op, kmsDir, keyId, from, to, bytes] = process.argv.slice(2);
const { envelope, Kms, KmsKeyring } = loadHsmkms();
const kms = await Kms.open({ root: { soft: { dir: kmsDir } }, store: path.join(kmsDir, 'keystore.db') });
try {
  const keyring = new KmsKeyring({ kms, keyId });
  const transform = op === 'encrypt'
    ? envelope.encryptStream({ keyring, plaintextLength: Number(bytes) })
    : envelope.decryptStream({ keyring });
  const t0 = performance.now();
  await pipeline(fs.createReadStream(from, { highWaterMark: MiB }), transform, fs.createWriteStream(to));
  const handle = await fs.promises.open(to, 'r+');
  await handle.sync();
  await handle.close();
  process.stdout.write(`${(performance.now() - t0) / 1000}\n`);
} finally {
  await kms.close();
}
