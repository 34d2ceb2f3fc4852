// HKDF (core/hkdf) against RFC 5869 and Wycheproof's HKDF-SHA512 vectors
// (read from ../shared/vectors at test time), and the key transforms
// (core/key_transforms) built on it: derived keys, commitment bytes and
// sealed keys, checked against the AWS Encryption SDK known answers.
#include "hkdf.h"

#include <memory>
#include <string>
#include <vector>

#include "aes_gcm_key.h"
#include "json.h"
#include "key_transforms.h"
#include "test_support.h"

using hsmkms::core::AesGcmKey;
using hsmkms::core::HkdfDigest;
using hsmkms::core::Status;
using hsmkms::test::FromHex;
using hsmkms::test::Json;
using hsmkms::test::ToHex;

namespace {

std::vector<uint8_t> Derive(HkdfDigest digest, const std::vector<uint8_t>& ikm,
                            const std::vector<uint8_t>& salt, const std::vector<uint8_t>& info,
                            size_t size, Status* status) {
  std::vector<uint8_t> out(size);
  *status = hsmkms::core::Hkdf(digest, ikm.data(), ikm.size(), salt.data(), salt.size(),
                               info.data(), info.size(), out.data(), out.size());
  return out;
}

std::shared_ptr<AesGcmKey> KeyFromHex(const std::string& hex) {
  const std::vector<uint8_t> bytes = FromHex(hex);
  std::shared_ptr<AesGcmKey> key;
  REQUIRE_EQ(AesGcmKey::Import(bytes.data(), bytes.size(), &key), Status::kOk);
  return key;
}

std::vector<uint8_t> Ascii(const std::string& text) { return {text.begin(), text.end()}; }

// KAT 1 of shared/reference/encryption-sdk-known-answers.md (suite 0x0478).
const char* kKatMessageId = "7e06f5a43bf41f6661ae2d85db17e54faae4dce1cd4aa1776c88707f0f52f594";
const char* kKatDataKey = "a485f0c81955cb514295acebeacdd2c498d672d27669e3758531ec5eb10396a5";
const char* kKatCommitKey = "0d06d119602011040fe6610aaa2e00c9ab2798da58dd7d8abae0db0e1256f813";
const char* kKatEncKey = "98e85491b0d753c3ff42158fba4b3ffb78aa6b4e0c5cfbaef185f6efa9607a9d";

}  // namespace

HSMKMS_TEST(Rfc5869Sha256Case1) {
  Status status;
  const auto okm = Derive(HkdfDigest::kSha256, FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                          FromHex("000102030405060708090a0b0c"), FromHex("f0f1f2f3f4f5f6f7f8f9"), 42,
                          &status);
  REQUIRE_EQ(status, Status::kOk);
  CHECK_EQ(ToHex(okm),
           std::string("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                       "34007208d5b887185865"));
}

HSMKMS_TEST(Rfc5869Sha256Case3EmptySaltAndInfo) {
  Status status;
  const auto okm = Derive(HkdfDigest::kSha256, FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                          {}, {}, 42, &status);
  REQUIRE_EQ(status, Status::kOk);
  CHECK_EQ(ToHex(okm),
           std::string("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                       "9d201395faa4b61a96c8"));
}

HSMKMS_TEST(WycheproofSha512) {
  const Json root = Json::Parse(
      hsmkms::test::ReadFile(std::string(HSMKMS_VECTORS_DIR) + "/wycheproof/hkdf_sha512_test.json"));
  size_t valid = 0, invalid = 0;
  for (const Json& group : root["testGroups"].items()) {
    for (const Json& t : group["tests"].items()) {
      Status status;
      const auto size = static_cast<size_t>(t["size"].number());
      const auto okm = Derive(HkdfDigest::kSha512, FromHex(t["ikm"].str()), FromHex(t["salt"].str()),
                              FromHex(t["info"].str()), size, &status);
      const int id = static_cast<int>(t["tcId"].number());
      if (t["result"].str() == "valid") {
        ++valid;
        CHECK_EQ(status, Status::kOk);
        CHECK_EQ(ToHex(okm) + " #" + std::to_string(id), t["okm"].str() + " #" + std::to_string(id));
      } else {
        ++invalid;
        CHECK_EQ(status, Status::kValidation);
      }
    }
  }
  CHECK_EQ(valid, size_t{80});
  CHECK_EQ(invalid, size_t{3});
}

HSMKMS_TEST(RejectsEmptyOutput) {
  Status status;
  (void)Derive(HkdfDigest::kSha512, FromHex("00"), {}, {}, 0, &status);
  CHECK_EQ(status, Status::kValidation);
}

HSMKMS_TEST(EsdkCommitAndEncryptionKeys) {
  const auto data_key = KeyFromHex(kKatDataKey);
  const auto message_id = FromHex(kKatMessageId);
  const auto commit_label = Ascii("COMMITKEY");
  std::vector<uint8_t> commit(32);
  REQUIRE_EQ(hsmkms::core::DeriveBytes(*data_key, HkdfDigest::kSha512, message_id.data(),
                                       message_id.size(), commit_label.data(), commit_label.size(),
                                       commit.data(), commit.size()),
             Status::kOk);
  CHECK_EQ(ToHex(commit), std::string(kKatCommitKey));

  std::vector<uint8_t> enc_label = {0x04, 0x78};
  const auto derive = Ascii("DERIVEKEY");
  enc_label.insert(enc_label.end(), derive.begin(), derive.end());
  std::shared_ptr<AesGcmKey> enc_key;
  REQUIRE_EQ(hsmkms::core::DeriveKey(*data_key, HkdfDigest::kSha512, message_id.data(),
                                     message_id.size(), enc_label.data(), enc_label.size(), &enc_key),
             Status::kOk);
  // The derived key seals like a key imported from the known bytes.
  const auto expected = KeyFromHex(kKatEncKey);
  const std::vector<uint8_t> iv(12, 0), plaintext = Ascii("frame");
  std::vector<uint8_t> a(plaintext.size() + AesGcmKey::kOverhead), b(a.size());
  REQUIRE_EQ(enc_key->Seal(iv.data(), plaintext.data(), plaintext.size(), nullptr, 0, a.data()),
             Status::kOk);
  REQUIRE_EQ(expected->Seal(iv.data(), plaintext.data(), plaintext.size(), nullptr, 0, b.data()),
             Status::kOk);
  CHECK_EQ(ToHex(a), ToHex(b));
}

HSMKMS_TEST(SealKeyOpenKeyRoundTrip) {
  const auto wrapping = KeyFromHex(std::string(64, '7'));
  const auto data_key = KeyFromHex(kKatDataKey);
  const auto aad = Ascii("context");
  std::vector<uint8_t> sealed(AesGcmKey::kKeySize + AesGcmKey::kOverhead);
  REQUIRE_EQ(hsmkms::core::SealKey(*wrapping, *data_key, aad.data(), aad.size(), sealed.data()),
             Status::kOk);
  std::shared_ptr<AesGcmKey> opened;
  REQUIRE_EQ(hsmkms::core::OpenKey(*wrapping, sealed.data(), sealed.size(), aad.data(), aad.size(),
                                   &opened),
             Status::kOk);
  // Same key: the same IV and plaintext give the same sealed bytes.
  const std::vector<uint8_t> iv(12, 1), plaintext = Ascii("x");
  std::vector<uint8_t> a(1 + AesGcmKey::kOverhead), b(a.size());
  REQUIRE_EQ(opened->Seal(iv.data(), plaintext.data(), 1, nullptr, 0, a.data()), Status::kOk);
  REQUIRE_EQ(data_key->Seal(iv.data(), plaintext.data(), 1, nullptr, 0, b.data()), Status::kOk);
  CHECK_EQ(ToHex(a), ToHex(b));

  // A key sealed under itself (one object as both inputs) works too.
  REQUIRE_EQ(hsmkms::core::SealKey(*wrapping, *wrapping, nullptr, 0, sealed.data()), Status::kOk);
}

HSMKMS_TEST(OpenKeyRejectsTamperingAndBadLengths) {
  const auto wrapping = KeyFromHex(std::string(64, '7'));
  const auto data_key = KeyFromHex(kKatDataKey);
  std::vector<uint8_t> sealed(AesGcmKey::kKeySize + AesGcmKey::kOverhead);
  REQUIRE_EQ(hsmkms::core::SealKey(*wrapping, *data_key, nullptr, 0, sealed.data()), Status::kOk);
  std::shared_ptr<AesGcmKey> opened;
  const auto aad = Ascii("other");
  CHECK_EQ(hsmkms::core::OpenKey(*wrapping, sealed.data(), sealed.size(), aad.data(), aad.size(),
                                 &opened),
           Status::kInvalidCiphertext);
  sealed[20] ^= 1;
  CHECK_EQ(hsmkms::core::OpenKey(*wrapping, sealed.data(), sealed.size(), nullptr, 0, &opened),
           Status::kInvalidCiphertext);
  CHECK_EQ(hsmkms::core::OpenKey(*wrapping, sealed.data(), sealed.size() - 1, nullptr, 0, &opened),
           Status::kInvalidCiphertext);
  CHECK(opened == nullptr);
}

HSMKMS_TEST(DestroyedKeysAreUnavailable) {
  const auto wrapping = KeyFromHex(std::string(64, '7'));
  const auto data_key = KeyFromHex(kKatDataKey);
  data_key->Destroy();
  std::shared_ptr<AesGcmKey> out;
  std::vector<uint8_t> bytes(AesGcmKey::kKeySize + AesGcmKey::kOverhead);
  CHECK_EQ(hsmkms::core::DeriveKey(*data_key, HkdfDigest::kSha512, nullptr, 0, nullptr, 0, &out),
           Status::kKeyUnavailable);
  CHECK_EQ(hsmkms::core::DeriveBytes(*data_key, HkdfDigest::kSha512, nullptr, 0, nullptr, 0,
                                     bytes.data(), 32),
           Status::kKeyUnavailable);
  CHECK_EQ(hsmkms::core::SealKey(*wrapping, *data_key, nullptr, 0, bytes.data()),
           Status::kKeyUnavailable);
}
