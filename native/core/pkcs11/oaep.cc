// RSA_padding_check_PKCS1_OAEP_mgf1 is OpenSSL's constant-time OAEP decoder,
// marked deprecated in 3.0 (in favour of EVP, which has no decode-only entry
// point) yet still exported by libcrypto and by Node. This file alone opts
// back into its declaration.
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED

#include "oaep.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <climits>

namespace hsmkms::pkcs11 {

core::Status OaepDecode(OaepHash hash, const uint8_t* em, size_t k, uint8_t* out,
                        size_t out_capacity, size_t* out_len) noexcept {
  if (k == 0 || k > INT_MAX || out_capacity > INT_MAX) return core::Status::kInvalidCiphertext;
  const EVP_MD* md = OaepDigest(hash);
  // `from` is the whole encoded message, leading zero byte included, as
  // OpenSSL's own RSA decryption passes it (flen == num == k).
  const int len = RSA_padding_check_PKCS1_OAEP_mgf1(out, static_cast<int>(out_capacity), em,
                                                    static_cast<int>(k), static_cast<int>(k),
                                                    nullptr, 0, md, md);
  ERR_clear_error();
  if (len < 0) {
    OPENSSL_cleanse(out, out_capacity);
    return core::Status::kInvalidCiphertext;
  }
  *out_len = static_cast<size_t>(len);
  return core::Status::kOk;
}

}  // namespace hsmkms::pkcs11
