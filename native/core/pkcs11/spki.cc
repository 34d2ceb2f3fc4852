#include "spki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>

namespace hsmkms::pkcs11 {
namespace {

struct Deleter {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Deleter>;

core::Status Fail() noexcept {
  ERR_clear_error();
  return core::Status::kInternal;
}

core::Status FromParams(const char* type, const OSSL_PARAM* params, std::vector<uint8_t>* der) {
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw_key, EVP_PKEY_PUBLIC_KEY,
                        const_cast<OSSL_PARAM*>(params)) != 1) {
    return Fail();
  }
  Ptr<EVP_PKEY> key(raw_key);
  const int len = i2d_PUBKEY(key.get(), nullptr);
  if (len <= 0) return Fail();
  der->resize(static_cast<size_t>(len));
  unsigned char* p = der->data();
  if (i2d_PUBKEY(key.get(), &p) != len) return Fail();
  return core::Status::kOk;
}

// The bare 04 || X || Y inside a CKA_EC_POINT value.
bool UnwrapEcPoint(const uint8_t* in, size_t len, size_t point_len,
                   const uint8_t** point) noexcept {
  if (len == point_len && in[0] == 0x04) {
    *point = in;
    return true;
  }
  // OCTET STRING, short (< 128) or one/two-byte long form length.
  if (len < 2 || in[0] != 0x04) return false;
  size_t header = 2, body = in[1];
  if (in[1] == 0x81 && len >= 3) {
    header = 3;
    body = in[2];
  } else if (in[1] == 0x82 && len >= 4) {
    header = 4;
    body = static_cast<size_t>(in[2]) << 8 | in[3];
  } else if (in[1] >= 0x80) {
    return false;
  }
  if (body != point_len || header + body != len || in[header] != 0x04) return false;
  *point = in + header;
  return true;
}

}  // namespace

core::Status RsaSpki(const uint8_t* modulus, size_t modulus_len, const uint8_t* exponent,
                     size_t exponent_len, std::vector<uint8_t>* der) {
  Ptr<BIGNUM> n(BN_bin2bn(modulus, static_cast<int>(modulus_len), nullptr));
  Ptr<BIGNUM> e(BN_bin2bn(exponent, static_cast<int>(exponent_len), nullptr));
  Ptr<OSSL_PARAM_BLD> build(OSSL_PARAM_BLD_new());
  if (n == nullptr || e == nullptr || build == nullptr ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return Fail();
  }
  Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(build.get()));
  if (params == nullptr) return Fail();
  return FromParams("RSA", params.get(), der);
}

core::Status EcSpki(KeySpec spec, const uint8_t* ec_point, size_t ec_point_len,
                    std::vector<uint8_t>* der) {
  if (!IsEc(spec)) return core::Status::kValidation;
  const size_t field = KeyBits(spec) / 8;
  const uint8_t* point = nullptr;
  if (!UnwrapEcPoint(ec_point, ec_point_len, 1 + 2 * field, &point)) return core::Status::kInternal;
  // OpenSSL only reads these parameters; its constructors take non-const pointers.
  char* group = const_cast<char*>(spec == KeySpec::kEccNistP256 ? "prime256v1" : "secp384r1");
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(point),
                                        1 + 2 * field),
      OSSL_PARAM_construct_end()};
  return FromParams("EC", params, der);
}

core::Status EcdsaRawToDer(const uint8_t* raw, size_t raw_len, std::vector<uint8_t>* der) {
  if (raw_len == 0 || raw_len % 2 != 0) return core::Status::kInternal;
  const int half = static_cast<int>(raw_len / 2);
  Ptr<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw, half, nullptr);
  BIGNUM* s = BN_bin2bn(raw + half, half, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Fail();
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return Fail();
  der->resize(static_cast<size_t>(len));
  unsigned char* p = der->data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return Fail();
  return core::Status::kOk;
}

}  // namespace hsmkms::pkcs11
