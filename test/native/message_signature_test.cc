// The ECDSA footer signature (core/message_signature): a signer's message
// verifies under its compressed public key whether fed whole or in pieces;
// any change to the message, the signature or the key fails; malformed
// points and misuse are refused with their status.
#include "message_signature.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "test_support.h"

using hsmkms::core::MessageSignature;
using hsmkms::core::SignatureCurve;
using hsmkms::core::Status;

namespace {

std::vector<uint8_t> Message(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 31 + 7);
  return bytes;
}

struct Signed {
  std::vector<uint8_t> point;
  std::vector<uint8_t> der;
};

// Signs `message` fed in pieces of `piece` bytes.
Signed SignInPieces(SignatureCurve curve, const std::vector<uint8_t>& message, size_t piece) {
  std::unique_ptr<MessageSignature> signer;
  REQUIRE_EQ(MessageSignature::NewSigner(curve, &signer), Status::kOk);
  Signed out;
  REQUIRE_EQ(signer->CompressedPublicKey(&out.point), Status::kOk);
  for (size_t at = 0; at < message.size(); at += piece) {
    const size_t n = std::min(piece, message.size() - at);
    REQUIRE_EQ(signer->Update(message.data() + at, n), Status::kOk);
  }
  REQUIRE_EQ(signer->Sign(&out.der), Status::kOk);
  return out;
}

Status VerifyWhole(SignatureCurve curve, const std::vector<uint8_t>& point,
                   const std::vector<uint8_t>& message, const std::vector<uint8_t>& der) {
  std::unique_ptr<MessageSignature> verifier;
  const Status made = MessageSignature::NewVerifier(curve, point.data(), point.size(), &verifier);
  if (made != Status::kOk) return made;
  REQUIRE_EQ(verifier->Update(message.data(), message.size()), Status::kOk);
  return verifier->Verify(der.data(), der.size());
}

}  // namespace

HSMKMS_TEST(SignatureP384RoundTripInPieces) {
  const auto message = Message(100'003);
  const Signed s = SignInPieces(SignatureCurve::kP384Sha384, message, 4096);
  CHECK_EQ(s.point.size(), MessageSignature::CompressedPointSize(SignatureCurve::kP384Sha384));
  CHECK(s.point[0] == 0x02 || s.point[0] == 0x03);
  CHECK(s.der.size() <= 104 && s.der[0] == 0x30);
  CHECK_EQ(VerifyWhole(SignatureCurve::kP384Sha384, s.point, message, s.der), Status::kOk);
}

HSMKMS_TEST(SignatureP256RoundTrip) {
  const auto message = Message(77);
  const Signed s = SignInPieces(SignatureCurve::kP256Sha256, message, 10);
  CHECK_EQ(s.point.size(), 33u);
  CHECK_EQ(VerifyWhole(SignatureCurve::kP256Sha256, s.point, message, s.der), Status::kOk);
  // The same bytes under the other curve's hash and key size: refused.
  CHECK_EQ(VerifyWhole(SignatureCurve::kP384Sha384, s.point, message, s.der),
           Status::kInvalidCiphertext);
}

HSMKMS_TEST(SignatureRejectsAnyChange) {
  const auto message = Message(1000);
  const Signed s = SignInPieces(SignatureCurve::kP384Sha384, message, 333);
  auto flipped = message;
  flipped[500] ^= 0x01;
  CHECK_EQ(VerifyWhole(SignatureCurve::kP384Sha384, s.point, flipped, s.der),
           Status::kInvalidCiphertext);
  auto bad_der = s.der;
  bad_der[bad_der.size() - 1] ^= 0x01;
  CHECK_EQ(VerifyWhole(SignatureCurve::kP384Sha384, s.point, message, bad_der),
           Status::kInvalidCiphertext);
  auto trailing = s.der;
  trailing.push_back(0);
  CHECK_EQ(VerifyWhole(SignatureCurve::kP384Sha384, s.point, message, trailing),
           Status::kInvalidCiphertext);
  const Signed other = SignInPieces(SignatureCurve::kP384Sha384, message, 1000);
  CHECK_EQ(VerifyWhole(SignatureCurve::kP384Sha384, other.point, message, s.der),
           Status::kInvalidCiphertext);
}

HSMKMS_TEST(SignatureRefusesMalformedPoints) {
  const Signed s = SignInPieces(SignatureCurve::kP384Sha384, Message(1), 1);
  std::unique_ptr<MessageSignature> verifier;
  auto uncompressed_tag = s.point;
  uncompressed_tag[0] = 0x04;
  CHECK_EQ(MessageSignature::NewVerifier(SignatureCurve::kP384Sha384, uncompressed_tag.data(),
                                         uncompressed_tag.size(), &verifier),
           Status::kInvalidCiphertext);
  CHECK_EQ(MessageSignature::NewVerifier(SignatureCurve::kP384Sha384, s.point.data(),
                                         s.point.size() - 1, &verifier),
           Status::kInvalidCiphertext);
  // About half of all x are not on the curve: some of these 16 must be refused.
  int off_curve = 0;
  for (uint8_t last = 0; last < 16; ++last) {
    std::vector<uint8_t> point(49, 0xff);
    point[0] = 0x02;
    point[48] = last;
    if (MessageSignature::NewVerifier(SignatureCurve::kP384Sha384, point.data(), point.size(),
                                      &verifier) == Status::kInvalidCiphertext) {
      ++off_curve;
    }
  }
  CHECK(off_curve > 0);
}

HSMKMS_TEST(SignatureMisuseIsRefused) {
  std::unique_ptr<MessageSignature> signer;
  REQUIRE_EQ(MessageSignature::NewSigner(SignatureCurve::kP384Sha384, &signer), Status::kOk);
  std::vector<uint8_t> der;
  REQUIRE_EQ(signer->Sign(&der), Status::kOk);
  // The digest is finished: no more updates, no second signature.
  const uint8_t byte = 1;
  CHECK_EQ(signer->Update(&byte, 1), Status::kValidation);
  CHECK_EQ(signer->Sign(&der), Status::kValidation);
  std::vector<uint8_t> point;
  REQUIRE_EQ(signer->CompressedPublicKey(&point), Status::kOk);
  std::unique_ptr<MessageSignature> verifier;
  REQUIRE_EQ(MessageSignature::NewVerifier(SignatureCurve::kP384Sha384, point.data(), point.size(),
                                           &verifier),
             Status::kOk);
  CHECK(!verifier->can_sign());
  CHECK_EQ(verifier->Sign(&der), Status::kValidation);
}
