#include "message_signature.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <algorithm>

namespace hsmkms::core {
namespace {

struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;

// Failures keep the calling thread's OpenSSL error queue clean.
Status Fail(Status status) noexcept {
  ERR_clear_error();
  return status;
}

const char* GroupName(SignatureCurve curve) noexcept {
  return curve == SignatureCurve::kP256Sha256 ? "P-256" : "P-384";
}

// Fetched once per process (fetching per message costs a provider lookup).
const EVP_MD* Digest(SignatureCurve curve) noexcept {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  return curve == SignatureCurve::kP256Sha256 ? sha256 : sha384;
}

}  // namespace

size_t MessageSignature::CompressedPointSize(SignatureCurve curve) noexcept {
  return curve == SignatureCurve::kP256Sha256 ? 33 : 49;
}

MessageSignature::~MessageSignature() = default;

Status MessageSignature::Make(SignatureCurve curve, EVP_PKEY* key, bool can_sign,
                              std::unique_ptr<MessageSignature>* out) {
  std::unique_ptr<EVP_PKEY, Deleter> owned(key);
  std::unique_ptr<EVP_MD_CTX, Deleter> digest(EVP_MD_CTX_new());
  const EVP_MD* md = Digest(curve);
  if (md == nullptr || digest == nullptr || EVP_DigestInit_ex(digest.get(), md, nullptr) != 1) {
    return Fail(Status::kInternal);
  }
  out->reset(new MessageSignature(owned.release(), digest.release(), can_sign));
  return Status::kOk;
}

Status MessageSignature::NewSigner(SignatureCurve curve, std::unique_ptr<MessageSignature>* out) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", GroupName(curve));
  if (key == nullptr) return Fail(Status::kInternal);
  return Make(curve, key, true, out);
}

Status MessageSignature::NewVerifier(SignatureCurve curve, const uint8_t* point, size_t len,
                                     std::unique_ptr<MessageSignature>* out) {
  // Only the compressed form (02|03 || x): the form the format allows.
  if (len != CompressedPointSize(curve) || (point[0] != 0x02 && point[0] != 0x03)) {
    return Status::kInvalidCiphertext;
  }
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  OSSL_PARAM params[] = {
      // OpenSSL only reads these; its OSSL_PARAM fields are not const.
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>(GroupName(curve)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(point), len),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* key = nullptr;
  // Decoding a compressed point solves for y: it fails for an x off the curve.
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return Fail(Status::kInvalidCiphertext);
  }
  // P-256 and P-384 have cofactor 1: a point on the curve is in the prime-order
  // group, so the quick check suffices; the full one adds a scalar
  // multiplication (about a millisecond for P-384) that proves nothing more.
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (check == nullptr || EVP_PKEY_public_check_quick(check.get()) != 1) {
    EVP_PKEY_free(key);
    return Fail(Status::kInvalidCiphertext);
  }
  return Make(curve, key, false, out);
}

Status MessageSignature::CompressedPublicKey(std::vector<uint8_t>* out) const {
  // OpenSSL 3.0 encodes the public key uncompressed (04 || x || y) whatever
  // the key's conversion format; SEC 1 compression keeps x and puts y's
  // parity in the first byte (02 even, 03 odd).
  uint8_t* encoded = nullptr;
  const size_t len = EVP_PKEY_get1_encoded_public_key(key_.get(), &encoded);
  std::unique_ptr<uint8_t, void (*)(uint8_t*)> owned(encoded, [](uint8_t* p) { OPENSSL_free(p); });
  if (len < 3 || len % 2 == 0 || encoded[0] != 0x04) return Fail(Status::kInternal);
  const size_t coordinate = (len - 1) / 2;
  std::vector<uint8_t> point(1 + coordinate);
  point[0] = static_cast<uint8_t>(0x02 | (encoded[len - 1] & 1));
  std::copy(encoded + 1, encoded + 1 + coordinate, point.begin() + 1);
  *out = std::move(point);
  return Status::kOk;
}

Status MessageSignature::Update(const uint8_t* data, size_t len) noexcept {
  if (finished_) return Status::kValidation;
  if (len == 0) return Status::kOk;
  return EVP_DigestUpdate(digest_.get(), data, len) == 1 ? Status::kOk : Fail(Status::kInternal);
}

size_t MessageSignature::FinishDigest(uint8_t* out) noexcept {
  finished_ = true;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(digest_.get(), out, &len) != 1) {
    ERR_clear_error();
    return 0;
  }
  return len;
}

Status MessageSignature::Sign(std::vector<uint8_t>* der) {
  if (!can_sign_ || finished_) return Status::kValidation;
  uint8_t digest[EVP_MAX_MD_SIZE];
  const size_t digest_len = FinishDigest(digest);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  size_t len = 0;
  if (digest_len == 0 || ctx == nullptr || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &len, digest, digest_len) != 1) {
    return Fail(Status::kInternal);
  }
  std::vector<uint8_t> signature(len);
  if (EVP_PKEY_sign(ctx.get(), signature.data(), &len, digest, digest_len) != 1) {
    return Fail(Status::kInternal);
  }
  signature.resize(len);  // DER is shorter than its bound
  *der = std::move(signature);
  return Status::kOk;
}

Status MessageSignature::Verify(const uint8_t* der, size_t len) {
  if (finished_) return Status::kValidation;
  uint8_t digest[EVP_MAX_MD_SIZE];
  const size_t digest_len = FinishDigest(digest);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (digest_len == 0 || ctx == nullptr || EVP_PKEY_verify_init(ctx.get()) != 1) {
    return Fail(Status::kInternal);
  }
  // 1: valid; 0: a wrong signature; < 0: not even DER. Both of the latter are a bad message.
  return EVP_PKEY_verify(ctx.get(), der, len, digest, digest_len) == 1
             ? Status::kOk
             : Fail(Status::kInvalidCiphertext);
}

}  // namespace hsmkms::core
