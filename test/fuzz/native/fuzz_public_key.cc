// SubjectPublicKeyInfo DER of an asymmetric CMK's public half (stored in the
// clear in the key store; also what GetPublicKey hands out). Bytes 0..1 are
// the DER length; then the DER, then a signature to verify with it. Either
// kValidation, or a key that verifies (valid or not) without a misuse status.
#include <memory>

#include "fuzz_support.h"
#include "pkcs11/algorithms.h"
#include "pkcs11/public_key.h"

using hsmkms::core::Status;
using hsmkms::pkcs11::KeySpec;
using hsmkms::pkcs11::MessageType;
using hsmkms::pkcs11::PublicKey;
using hsmkms::pkcs11::SigningAlgorithm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t der_len = static_cast<size_t>(data[0]) << 8 | data[1];
  if (der_len > size - 2) der_len = size - 2;
  const uint8_t* der = data + 2;
  std::unique_ptr<PublicKey> key;
  const Status st = PublicKey::FromSpki(der, der_len, &key);
  if (st != Status::kOk) {
    FUZZ_CHECK(st == Status::kValidation && key == nullptr);
    return 0;
  }
  FUZZ_CHECK(key != nullptr);
  const KeySpec spec = key->spec();
  const bool ec = spec == KeySpec::kEccNistP256 || spec == KeySpec::kEccNistP384;
  FUZZ_CHECK(ec || spec == KeySpec::kRsa2048 || spec == KeySpec::kRsa3072 ||
             spec == KeySpec::kRsa4096);
  const uint8_t* signature = der + der_len;
  const size_t signature_len = size - 2 - der_len;
  // The algorithm that fits the key, with a digest of its hash's size.
  const bool p384 = spec == KeySpec::kEccNistP384;
  const SigningAlgorithm algorithm = p384 ? SigningAlgorithm::kEcdsaSha384
                                     : ec ? SigningAlgorithm::kEcdsaSha256
                                          : SigningAlgorithm::kRsaPssSha256;
  uint8_t digest[48];
  hsmkms::fuzz::FillPattern(digest, sizeof digest, 9);
  bool valid = true;
  const Status verify_st = key->Verify(algorithm, MessageType::kDigest, digest, p384 ? 48 : 32,
                                       signature, signature_len, &valid);
  FUZZ_CHECK(verify_st == Status::kOk);
  return 0;
}
