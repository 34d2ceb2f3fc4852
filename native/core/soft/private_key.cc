#include "private_key.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

#include "../pkcs11/oaep.h"

namespace hsmkms::soft {
namespace {

using pkcs11::KeySpec;

struct Deleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
  void operator()(OSSL_ENCODER_CTX* p) const noexcept { OSSL_ENCODER_CTX_free(p); }
  void operator()(OSSL_DECODER_CTX* p) const noexcept { OSSL_DECODER_CTX_free(p); }
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Deleter>;

// Failures keep the calling thread's OpenSSL error queue clean.
core::Status Fail(core::Status status) noexcept {
  ERR_clear_error();
  return status;
}

bool Matches(EVP_PKEY* key, KeySpec spec) noexcept {
  if (pkcs11::IsRsa(spec)) {
    return EVP_PKEY_is_a(key, "RSA") &&
           static_cast<size_t>(EVP_PKEY_get_bits(key)) == pkcs11::KeyBits(spec);
  }
  if (!pkcs11::IsEc(spec) || !EVP_PKEY_is_a(key, "EC")) return false;
  char group[32] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &len) != 1) {
    return false;
  }
  if (spec == KeySpec::kEccNistP256) {
    return std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0;
  }
  return std::strcmp(group, "secp384r1") == 0 || std::strcmp(group, "P-384") == 0;
}

// PrivateKeyInfo DER through a secure-memory BIO (its buffer is cleansed
// when freed), copied into locked memory.
core::Status EncodePkcs8(EVP_PKEY* key, core::SecureBytes* out) {
  Ptr<OSSL_ENCODER_CTX> encoder(OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "DER",
                                                              "PrivateKeyInfo", nullptr));
  Ptr<BIO> bio(BIO_new(BIO_s_secmem()));
  BUF_MEM* buffer = nullptr;
  if (encoder == nullptr || bio == nullptr || OSSL_ENCODER_to_bio(encoder.get(), bio.get()) != 1 ||
      BIO_get_mem_ptr(bio.get(), &buffer) != 1 || buffer == nullptr || buffer->length == 0) {
    return Fail(core::Status::kInternal);
  }
  core::SecureBytes der(buffer->length);
  std::memcpy(der.data(), buffer->data, buffer->length);
  *out = std::move(der);
  return core::Status::kOk;
}

core::Status EncodeSpki(EVP_PKEY* key, std::vector<uint8_t>* spki) {
  const int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return Fail(core::Status::kInternal);
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_PUBKEY(key, &p) != len) return Fail(core::Status::kInternal);
  *spki = std::move(der);
  return core::Status::kOk;
}

}  // namespace

PrivateKey::~PrivateKey() = default;

core::Status PrivateKey::Generate(KeySpec spec, core::SecureBytes* pkcs8,
                                  std::vector<uint8_t>* spki) {
  Ptr<EVP_PKEY> key;
  if (pkcs11::IsRsa(spec)) {
    // e = 65537 (OpenSSL's default), as Hsm asks the token for.
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", pkcs11::KeyBits(spec)));
  } else if (pkcs11::IsEc(spec)) {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC",
                                spec == KeySpec::kEccNistP256 ? "P-256" : "P-384"));
  } else {
    return core::Status::kValidation;
  }
  if (key == nullptr) return Fail(core::Status::kInternal);
  core::SecureBytes der;
  core::Status status = EncodePkcs8(key.get(), &der);
  if (status != core::Status::kOk) return status;
  std::vector<uint8_t> public_der;
  status = EncodeSpki(key.get(), &public_der);
  if (status != core::Status::kOk) return status;
  *pkcs8 = std::move(der);
  *spki = std::move(public_der);
  return core::Status::kOk;
}

core::Status PrivateKey::FromPkcs8(KeySpec spec, const uint8_t* der, size_t len,
                                   std::unique_ptr<PrivateKey>* out) {
  if (!pkcs11::IsRsa(spec) && !pkcs11::IsEc(spec)) return core::Status::kValidation;
  if (der == nullptr || len == 0) return core::Status::kInvalidCiphertext;
  EVP_PKEY* raw = nullptr;
  Ptr<OSSL_DECODER_CTX> decoder(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "DER", "PrivateKeyInfo", pkcs11::IsRsa(spec) ? "RSA" : "EC", EVP_PKEY_KEYPAIR,
      nullptr, nullptr));
  if (decoder == nullptr) return Fail(core::Status::kInternal);
  const unsigned char* p = der;
  size_t left = len;
  const bool decoded = OSSL_DECODER_from_data(decoder.get(), &p, &left) == 1;
  Ptr<EVP_PKEY> key(raw);
  // Exactly one key of the spec the key store recorded, nothing after it.
  if (!decoded || key == nullptr || left != 0 || !Matches(key.get(), spec)) {
    return Fail(core::Status::kInvalidCiphertext);
  }
  out->reset(new PrivateKey(key.release(), spec));
  return core::Status::kOk;
}

core::Status PrivateKey::DecryptOaep(pkcs11::OaepHash hash, const uint8_t* ciphertext, size_t len,
                                     uint8_t* out, size_t out_capacity, size_t* out_len) const {
  if (!pkcs11::IsRsa(spec_)) return core::Status::kInvalidKeyUsage;
  const size_t k = pkcs11::KeyBits(spec_) / 8;
  // OpenSSL's own OAEP path leaves the encoded message (from which anyone
  // recovers the plaintext) in a heap buffer it frees without cleansing:
  // do the raw private operation into locked memory and decode it here.
  if (len != k) {
    OPENSSL_cleanse(out, out_capacity);
    return core::Status::kInvalidCiphertext;
  }
  core::SecureBytes em(k);
  size_t em_len = k;
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1 ||
      EVP_PKEY_decrypt(ctx.get(), em.data(), &em_len, ciphertext, len) != 1 || em_len != k) {
    // A ciphertext >= the modulus fails here: public knowledge, not an oracle.
    OPENSSL_cleanse(out, out_capacity);
    return Fail(core::Status::kInvalidCiphertext);
  }
  return pkcs11::OaepDecode(hash, em.data(), k, out, out_capacity, out_len);
}

core::Status PrivateKey::SignDigest(pkcs11::SigningAlgorithm algorithm, const uint8_t* digest,
                                    size_t digest_len, std::vector<uint8_t>* signature) const {
  if (!pkcs11::SigningAlgorithmFits(algorithm, spec_)) return core::Status::kInvalidKeyUsage;
  const EVP_MD* md = pkcs11::SigningDigest(algorithm);
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  bool ok = ctx != nullptr && EVP_PKEY_sign_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), md) == 1;
  if (ok && pkcs11::IsPss(algorithm)) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) == 1;
  } else if (ok && pkcs11::IsPkcs1(algorithm)) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
  }
  size_t len = 0;
  if (!ok || EVP_PKEY_sign(ctx.get(), nullptr, &len, digest, digest_len) != 1) {
    return Fail(core::Status::kInternal);
  }
  std::vector<uint8_t> sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest, digest_len) != 1) {
    return Fail(core::Status::kInternal);
  }
  sig.resize(len);  // ECDSA DER is shorter than its bound
  *signature = std::move(sig);
  return core::Status::kOk;
}

}  // namespace hsmkms::soft
