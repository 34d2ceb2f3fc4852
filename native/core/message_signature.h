// The footer signature of signed AWS Encryption SDK suites: ECDSA over a
// running SHA-2 digest of every byte before the footer. A signer makes a
// fresh key pair per message; a verifier takes the public key from the
// message's encryption context (a compressed point). OpenSSL does the math.
//
// Hashing is fed in pieces (Update), so a stream can hash its frames on a
// worker thread instead of the JavaScript thread. An object is not
// thread-safe: the caller runs one Update at a time, in message order.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "status.h"

namespace hsmkms::core {

// The curves of the ESDK signed suites, each with the hash the suites pair it with.
enum class SignatureCurve {
  kP256Sha256,  // suite 0x0214
  kP384Sha384,  // suites 0x0346, 0x0378, 0x0578
};

class MessageSignature {
 public:
  // Compressed point size (0x02/0x03 || x).
  [[nodiscard]] static size_t CompressedPointSize(SignatureCurve curve) noexcept;

  // A signer with a fresh key pair.
  [[nodiscard]] static Status NewSigner(SignatureCurve curve,
                                        std::unique_ptr<MessageSignature>* out);
  // A verifier for the compressed point `point`; kInvalidCiphertext unless
  // it is a point of `curve` in compressed form.
  [[nodiscard]] static Status NewVerifier(SignatureCurve curve, const uint8_t* point, size_t len,
                                          std::unique_ptr<MessageSignature>* out);

  ~MessageSignature();
  MessageSignature(const MessageSignature&) = delete;
  MessageSignature& operator=(const MessageSignature&) = delete;

  [[nodiscard]] bool can_sign() const noexcept { return can_sign_; }
  // The signer's public key as a compressed point.
  [[nodiscard]] Status CompressedPublicKey(std::vector<uint8_t>* out) const;

  // Feeds the digest; kValidation once the digest is finished.
  [[nodiscard]] Status Update(const uint8_t* data, size_t len) noexcept;
  // Finishes the digest and signs it (DER). kValidation for a verifier or a
  // finished digest.
  [[nodiscard]] Status Sign(std::vector<uint8_t>* der);
  // Finishes the digest and checks `der` against it: kOk when it verifies,
  // kInvalidCiphertext when not (or when it is not DER); kValidation for a
  // finished digest.
  [[nodiscard]] Status Verify(const uint8_t* der, size_t len);

 private:
  struct Deleter {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
  };
  MessageSignature(EVP_PKEY* key, EVP_MD_CTX* digest, bool can_sign) noexcept
      : key_(key), digest_(digest), can_sign_(can_sign) {}
  [[nodiscard]] static Status Make(SignatureCurve curve, EVP_PKEY* key, bool can_sign,
                                   std::unique_ptr<MessageSignature>* out);
  // Writes the digest of everything fed to `out` (64 bytes of room); 0 on failure.
  size_t FinishDigest(uint8_t* out) noexcept;

  std::unique_ptr<EVP_PKEY, Deleter> key_;
  std::unique_ptr<EVP_MD_CTX, Deleter> digest_;
  bool can_sign_;
  bool finished_ = false;
};

}  // namespace hsmkms::core
