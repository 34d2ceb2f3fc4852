// Public material as a PKCS#11 token returns it (CKA_EC_POINT, RSA modulus
// and exponent, raw r || s ECDSA signatures), turned into DER on the host.
// Byte 0 picks the encoder. Properties: EcdsaRawToDer's DER decodes back to
// the same r and s; an EC SPKI we build parses back as a key of that curve.
#include <openssl/bn.h>
#include <openssl/ec.h>

#include <memory>
#include <vector>

#include "fuzz_support.h"
#include "pkcs11/algorithms.h"
#include "pkcs11/public_key.h"
#include "pkcs11/spki.h"

using hsmkms::core::Status;
using hsmkms::pkcs11::KeySpec;
namespace p11 = hsmkms::pkcs11;

namespace {

// The big-endian bytes `raw` holds, as a BIGNUM (leading zeros dropped).
bool SameNumber(const BIGNUM* n, const uint8_t* raw, size_t len) {
  BIGNUM* expected = BN_bin2bn(raw, static_cast<int>(len), nullptr);
  const bool same = expected != nullptr && BN_cmp(n, expected) == 0;
  BN_free(expected);
  return same;
}

void CheckEcdsa(const uint8_t* raw, size_t len) {
  std::vector<uint8_t> der;
  const Status st = p11::EcdsaRawToDer(raw, len, &der);
  if (len == 0 || len % 2 != 0) {
    FUZZ_CHECK(st != Status::kOk);
    return;
  }
  FUZZ_CHECK(st == Status::kOk);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  FUZZ_CHECK(sig != nullptr && p == der.data() + der.size());
  FUZZ_CHECK(SameNumber(ECDSA_SIG_get0_r(sig), raw, len / 2));
  FUZZ_CHECK(SameNumber(ECDSA_SIG_get0_s(sig), raw + len / 2, len / 2));
  ECDSA_SIG_free(sig);
}

void CheckEc(KeySpec spec, const uint8_t* point, size_t len) {
  std::vector<uint8_t> der;
  if (p11::EcSpki(spec, point, len, &der) != Status::kOk) return;
  std::unique_ptr<p11::PublicKey> key;
  FUZZ_CHECK(p11::PublicKey::FromSpki(der.data(), der.size(), &key) == Status::kOk);
  FUZZ_CHECK(key->spec() == spec);
}

void CheckRsa(const uint8_t* in, size_t len) {
  // Byte 0: the exponent's length; the modulus follows it.
  if (len < 1) return;
  const size_t e_len = in[0] < len - 1 ? in[0] : len - 1;
  std::vector<uint8_t> der;
  if (p11::RsaSpki(in + 1 + e_len, len - 1 - e_len, in + 1, e_len, &der) != Status::kOk) return;
  FUZZ_CHECK(!der.empty());
  // Whatever we encoded must parse or be refused cleanly (odd sizes are refused).
  std::unique_ptr<p11::PublicKey> key;
  const Status st = p11::PublicKey::FromSpki(der.data(), der.size(), &key);
  FUZZ_CHECK(st == Status::kOk || st == Status::kValidation);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t* in = data + 1;
  const size_t len = size - 1;
  switch (data[0] % 4) {
    case 0: CheckEcdsa(in, len); break;
    case 1: CheckEc(KeySpec::kEccNistP256, in, len); break;
    case 2: CheckEc(KeySpec::kEccNistP384, in, len); break;
    default: CheckRsa(in, len); break;
  }
  return 0;
}
