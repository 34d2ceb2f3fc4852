#include "public_key.h"

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

namespace hsmkms::pkcs11 {
namespace {

struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;

bool SpecOf(EVP_PKEY* key, KeySpec* spec) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048: *spec = KeySpec::kRsa2048; return true;
      case 3072: *spec = KeySpec::kRsa3072; return true;
      case 4096: *spec = KeySpec::kRsa4096; return true;
      default: return false;
    }
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[32] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) != 1) return false;
    if (std::strcmp(group, "prime256v1") == 0) {
      *spec = KeySpec::kEccNistP256;
      return true;
    }
    if (std::strcmp(group, "secp384r1") == 0) {
      *spec = KeySpec::kEccNistP384;
      return true;
    }
  }
  return false;
}

}  // namespace

core::Status PublicKey::FromSpki(const uint8_t* der, size_t len, std::unique_ptr<PublicKey>* out) {
  const unsigned char* p = der;
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(len));
  KeySpec spec;
  if (key == nullptr || p != der + len || !SpecOf(key, &spec)) {
    EVP_PKEY_free(key);
    ERR_clear_error();
    return core::Status::kValidation;
  }
  out->reset(new PublicKey(key, spec));
  return core::Status::kOk;
}

PublicKey::~PublicKey() { EVP_PKEY_free(key_); }

core::Status PublicKey::EncryptOaep(OaepHash hash, const uint8_t* plaintext, size_t len,
                                    std::vector<uint8_t>* ciphertext) const {
  if (!IsRsa(spec_)) return core::Status::kInvalidKeyUsage;
  const EVP_MD* md = OaepDigest(hash);
  CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_, nullptr));
  size_t out_len = 0;
  if (ctx == nullptr || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, plaintext, len) != 1) {
    ERR_clear_error();
    return core::Status::kInternal;
  }
  // Too long for the key: k - 2 * hLen - 2 bytes at most.
  const size_t k = static_cast<size_t>(EVP_PKEY_get_size(key_));
  if (len + 2 * static_cast<size_t>(EVP_MD_get_size(md)) + 2 > k) return core::Status::kValidation;
  ciphertext->resize(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), ciphertext->data(), &out_len, plaintext, len) != 1) {
    ERR_clear_error();
    return core::Status::kInternal;
  }
  ciphertext->resize(out_len);
  return core::Status::kOk;
}

core::Status PublicKey::Verify(SigningAlgorithm algorithm, MessageType type, const uint8_t* data,
                               size_t len, const uint8_t* signature, size_t signature_len,
                               bool* valid) const {
  *valid = false;
  if (!SigningAlgorithmFits(algorithm, spec_)) return core::Status::kInvalidKeyUsage;
  const EVP_MD* md = SigningDigest(algorithm);
  uint8_t digest[EVP_MAX_MD_SIZE];
  size_t digest_len = 0;
  if (type == MessageType::kDigest) {
    if (len != static_cast<size_t>(EVP_MD_get_size(md))) return core::Status::kValidation;
    std::memcpy(digest, data, len);
    digest_len = len;
  } else if (!HostDigest(md, data, len, digest, &digest_len)) {
    return core::Status::kInternal;
  }
  CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_, nullptr));
  bool ok = ctx != nullptr && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), md) == 1;
  if (ok && IsPss(algorithm)) {
    // AWS KMS: salt length = digest length, MGF1 with the same digest.
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) == 1;
  } else if (ok && IsPkcs1(algorithm)) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
  }
  if (!ok) {
    ERR_clear_error();
    return core::Status::kInternal;
  }
  *valid = EVP_PKEY_verify(ctx.get(), signature, signature_len, digest, digest_len) == 1;
  ERR_clear_error();
  return core::Status::kOk;
}

}  // namespace hsmkms::pkcs11
