// PKCS#8 PrivateKeyInfo DER of an asymmetric CMK (soft root: what an
// unwrapped key-store blob holds). Byte 0 picks the expected key spec; the
// rest is the DER. Either exactly one key of that spec, usable to sign, or
// kInvalidCiphertext.
#include <memory>
#include <vector>

#include "fuzz_support.h"
#include "pkcs11/algorithms.h"
#include "soft/private_key.h"

using hsmkms::core::Status;
using hsmkms::pkcs11::KeySpec;
using hsmkms::pkcs11::SigningAlgorithm;
using hsmkms::soft::PrivateKey;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const KeySpec kSpecs[] = {KeySpec::kRsa2048, KeySpec::kRsa3072, KeySpec::kRsa4096,
                                   KeySpec::kEccNistP256, KeySpec::kEccNistP384};
  const KeySpec spec = kSpecs[data[0] % 5];
  std::unique_ptr<PrivateKey> key;
  const Status st = PrivateKey::FromPkcs8(spec, data + 1, size - 1, &key);
  if (st != Status::kOk) {
    FUZZ_CHECK(st == Status::kInvalidCiphertext && key == nullptr);
    return 0;
  }
  FUZZ_CHECK(key != nullptr && key->spec() == spec);
  // A parsed key must be usable: sign a fixed SHA-256-sized digest.
  const bool ec = spec == KeySpec::kEccNistP256 || spec == KeySpec::kEccNistP384;
  uint8_t digest[32];
  hsmkms::fuzz::FillPattern(digest, sizeof digest, 3);
  std::vector<uint8_t> signature;
  const Status signed_st = key->SignDigest(
      ec ? SigningAlgorithm::kEcdsaSha256 : SigningAlgorithm::kRsaPkcs1Sha256, digest,
      sizeof digest, &signature);
  // A key OpenSSL accepts may still fail to sign (e.g. an RSA key with bad
  // CRT values): an error status then, never a crash or an empty signature.
  FUZZ_CHECK(signed_st != Status::kOk || !signature.empty());
  return 0;
}
