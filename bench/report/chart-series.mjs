// The chart's data: AES-256-GCM encrypt throughput (MB/s, MB = 10^6 bytes)
// against message size, one series per implementation, each point taken
// from a result file. A series whose results are missing has no points and
// is left out of the chart.

const MB = 1e6;
const KiB = 1024;

const rowsOf = (json) => json?.suites?.throughput?.rows ?? [];
const aeadPoints = (aead, id) => rowsOf(aead).filter((r) => r.id === id && r.mbPerSec > 0)
  .map((r) => ({ bytes: r.size, mbPerSec: r.mbPerSec, label: r.case }));

/** Envelope rows: a 1 KiB message rate (ops/s × 1 KiB) and a stream's MB/s at its length. */
function envelopePoints(envelope, messageId, streamId) {
  const rows = envelope?.suite?.rows ?? [];
  const out = [];
  const msg = rows.find((r) => r.id === messageId);
  if (msg?.value > 0) out.push({ bytes: KiB, mbPerSec: (msg.value * KiB) / MB, label: msg.label });
  const stream = rows.find((r) => r.id === streamId);
  const bytes = stream?.bytes ?? envelope?.suite?.streamBytes;
  if (stream?.value > 0 && bytes > 0) out.push({ bytes, mbPerSec: stream.value, label: `${stream.label}, ${bytes / 2 ** 20} MiB stream` });
  return out;
}

/** AES-GCM encrypt at 32 B and 4 KiB on SoftHSM2: ops/s × message size. */
function hsmPoints(pkcs11, kms, variant, kmsVariant) {
  const out = [];
  for (const [bytes, p11Op, kmsOp] of [[32, 'gcm-enc-32', 'encrypt-32'], [4096, 'gcm-enc-4k', 'encrypt-4k']]) {
    // pkcs11.json measures the raw calls; kms.json (whole Kms operations) is the fallback.
    const r = pkcs11?.suite?.rows?.find((q) => q.id === `${p11Op}/${variant}`)
      ?? (kmsVariant && kms?.suite?.rows?.find((q) => q.id === `${kmsOp}/${kmsVariant}`));
    if (r?.opsPerSec > 0) out.push({ bytes, mbPerSec: (r.opsPerSec * bytes) / MB, label: `${r.opLabel ?? r.op}: ${r.case} (${r.suite}.json)` });
  }
  return out;
}

/** Every series, in legend order; `note` says where its points come from. */
export function chartSeries({ aead, envelope, pkcs11, kms }) {
  const series = [
    { name: 'hsmkms', note: 'AEAD engine, encrypt, all workers (aead.json)', points: aeadPoints(aead, 'async-all') },
    { name: 'hsmkms envelope', note: 'envelope.encrypt 1 KiB (raw AES keyring) and encryptStream 0x0478 (envelope.json)',
      points: envelopePoints(envelope, 'small-hsmkms-raw', 'hsmkms-0478-enc'), connect: false },
    { name: 'hsmkms on SoftHSM2', note: 'HSM AES-GCM encrypt, 8 in flight (pkcs11.json)', points: hsmPoints(pkcs11, kms, 'hsmkms-8') },
    { name: 'node:crypto', note: 'createCipheriv one-shot (aead.json)', points: aeadPoints(aead, 'node') },
    { name: 'WebCrypto', note: 'subtle.encrypt, 64 in flight (aead.json)', points: aeadPoints(aead, 'webcrypto') },
    { name: 'openssl speed', note: 'openssl speed -evp aes-256-gcm, 1 process (aead.json)', points: aeadPoints(aead, 'openssl') },
    { name: 'client-node', note: '@aws-crypto/client-node: encrypt 1 KiB (raw AES keyring) and encryptStream 0x0478 at its defaults (envelope.json)',
      points: envelopePoints(envelope, 'small-peer-raw', 'peer-0478-default-enc'), connect: false },
    { name: 'pkcs11js', note: 'C_EncryptInit + C_Encrypt AES-GCM on SoftHSM2, sync loop (pkcs11.json, else kms.json)',
      points: hsmPoints(pkcs11, kms, 'pkcs11js-sync', 'pkcs11js-sync') },
  ];
  for (const s of series) s.points.sort((a, b) => a.bytes - b.bytes);
  return series.filter((s) => s.points.length > 0);
}
