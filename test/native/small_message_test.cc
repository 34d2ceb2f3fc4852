// The small-message core (core/small_message, core/message_keys): the
// one-extract HKDF against the two-call one and the AWS Encryption SDK known
// answers, a sealed message opened back, every check's failure, and the
// argument checks. Built under ASan/UBSan like every ctest.
#include "small_message.h"

#include <memory>
#include <string>
#include <vector>

#include "aes_gcm_key.h"
#include "hkdf.h"
#include "message_keys.h"
#include "test_support.h"

using hsmkms::core::AesGcmKey;
using hsmkms::core::HkdfDigest;
using hsmkms::core::SmallMessageCheck;
using hsmkms::core::Status;
using hsmkms::test::FromHex;
using hsmkms::test::ToHex;

namespace {

// KAT 1 of shared/reference/encryption-sdk-known-answers.md (suite 0x0478).
const char* kKatMessageId = "7e06f5a43bf41f6661ae2d85db17e54faae4dce1cd4aa1776c88707f0f52f594";
const char* kKatDataKey = "a485f0c81955cb514295acebeacdd2c498d672d27669e3758531ec5eb10396a5";
const char* kKatCommitKey = "0d06d119602011040fe6610aaa2e00c9ab2798da58dd7d8abae0db0e1256f813";
const char* kKatEncKey = "98e85491b0d753c3ff42158fba4b3ffb78aa6b4e0c5cfbaef185f6efa9607a9d";
constexpr size_t kBody = 64;  // a stand-in header body: its last 32 bytes are the commitment slot

std::shared_ptr<AesGcmKey> KeyFromHex(const std::string& hex) {
  const std::vector<uint8_t> bytes = FromHex(hex);
  std::shared_ptr<AesGcmKey> key;
  REQUIRE_EQ(AesGcmKey::Import(bytes.data(), bytes.size(), &key), Status::kOk);
  return key;
}

struct Sealed {
  std::vector<uint8_t> message;
  std::vector<uint8_t> plaintext;
};

Sealed SealOne(const AesGcmKey& key, size_t length) {
  Sealed s;
  for (size_t i = 0; i < length; ++i) s.plaintext.push_back(static_cast<uint8_t>(i * 7));
  s.message.assign(kBody + AesGcmKey::kTagSize + hsmkms::core::kFinalFrameOverhead + length, 0);
  for (size_t i = 0; i < kBody - 32; ++i) s.message[i] = static_cast<uint8_t>(i);
  const auto id = FromHex(kKatMessageId);
  REQUIRE_EQ(hsmkms::core::SealSmallMessage(key, 0x0478, id.data(), s.message.data(),
                                            s.message.size(), kBody, s.plaintext.data(), length),
             Status::kOk);
  return s;
}

Status OpenOne(const AesGcmKey& key, const std::vector<uint8_t>& m, std::vector<uint8_t>* out,
               SmallMessageCheck* check) {
  const auto id = FromHex(kKatMessageId);
  const uint8_t* frame = m.data() + kBody + AesGcmKey::kTagSize;
  return hsmkms::core::OpenSmallMessage(key, 0x0478, id.data(), m.data() + kBody - 32, m.data(),
                                        kBody, m.data() + kBody, frame,
                                        m.size() - kBody - AesGcmKey::kTagSize, out->data(),
                                        out->size(), check);
}

}  // namespace

HSMKMS_TEST(ExtractThenExpandEqualsHkdf) {
  const auto ikm = FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const auto salt = FromHex("000102030405060708090a0b0c"), info = FromHex("f0f1f2f3f4f5f6f7f8f9");
  for (HkdfDigest digest : {HkdfDigest::kSha256, HkdfDigest::kSha384, HkdfDigest::kSha512}) {
    std::vector<uint8_t> whole(42), prk(hsmkms::core::HkdfDigestSize(digest)), parts(42);
    REQUIRE_EQ(hsmkms::core::Hkdf(digest, ikm.data(), ikm.size(), salt.data(), salt.size(),
                                  info.data(), info.size(), whole.data(), whole.size()),
               Status::kOk);
    REQUIRE_EQ(hsmkms::core::HkdfExtract(digest, ikm.data(), ikm.size(), salt.data(), salt.size(),
                                         prk.data()),
               Status::kOk);
    REQUIRE_EQ(hsmkms::core::HkdfExpand(digest, prk.data(), prk.size(), info.data(), info.size(),
                                        parts.data(), parts.size()),
               Status::kOk);
    CHECK_EQ(ToHex(parts), ToHex(whole));
    CHECK_EQ(hsmkms::core::HkdfExpand(digest, prk.data(), prk.size() - 1, info.data(),
                                      info.size(), parts.data(), parts.size()),
             Status::kValidation);
  }
}

HSMKMS_TEST(MessageKeysMatchKnownAnswers) {
  const auto data_key = KeyFromHex(kKatDataKey);
  const auto id = FromHex(kKatMessageId);
  std::vector<uint8_t> commit(32);
  std::shared_ptr<AesGcmKey> content;
  REQUIRE_EQ(hsmkms::core::DeriveMessageKeys(*data_key, 0x0478, id.data(), commit.data(), &content),
             Status::kOk);
  CHECK_EQ(ToHex(commit), std::string(kKatCommitKey));
  const auto expected = KeyFromHex(kKatEncKey);
  const std::vector<uint8_t> iv(12, 0), plaintext = {'f', 'r', 'a', 'm', 'e'};
  std::vector<uint8_t> a(plaintext.size() + AesGcmKey::kOverhead), b(a.size());
  REQUIRE_EQ(content->Seal(iv.data(), plaintext.data(), plaintext.size(), nullptr, 0, a.data()),
             Status::kOk);
  REQUIRE_EQ(expected->Seal(iv.data(), plaintext.data(), plaintext.size(), nullptr, 0, b.data()),
             Status::kOk);
  CHECK_EQ(ToHex(a), ToHex(b));
}

HSMKMS_TEST(SealThenOpen) {
  const auto key = KeyFromHex(kKatDataKey);
  for (size_t length : {size_t{0}, size_t{1}, size_t{1024}}) {
    Sealed s = SealOne(*key, length);
    std::vector<uint8_t> out(length, 0xaa);
    SmallMessageCheck check;
    REQUIRE_EQ(OpenOne(*key, s.message, &out, &check), Status::kOk);
    CHECK(check == SmallMessageCheck::kPassed);
    CHECK_EQ(ToHex(out), ToHex(s.plaintext));
  }
}

HSMKMS_TEST(EveryCheckFailsOnItsOwnBytes) {
  const auto key = KeyFromHex(kKatDataKey);
  const Sealed s = SealOne(*key, 16);
  struct Case {
    size_t at;
    SmallMessageCheck check;
  };
  const size_t frame = kBody + AesGcmKey::kTagSize;
  const Case cases[] = {{kBody - 1, SmallMessageCheck::kCommitment},
                        {0, SmallMessageCheck::kHeaderTag},
                        {kBody, SmallMessageCheck::kHeaderTag},
                        {frame + 3, SmallMessageCheck::kFrame},       // marker
                        {frame + 7, SmallMessageCheck::kFrame},       // sequence number
                        {frame + 19, SmallMessageCheck::kFrame},      // IV
                        {frame + 23, SmallMessageCheck::kFrame},      // length
                        {frame + 30, SmallMessageCheck::kFrame},      // ciphertext
                        {s.message.size() - 1, SmallMessageCheck::kFrame}};  // tag
  for (const Case& c : cases) {
    std::vector<uint8_t> m = s.message;
    m[c.at] ^= 1;
    std::vector<uint8_t> out(16, 0xaa);
    SmallMessageCheck check;
    CHECK_EQ(OpenOne(*key, m, &out, &check), Status::kInvalidCiphertext);
    CHECK(check == c.check);
    CHECK_EQ(ToHex(out), std::string(32, '0'));  // wiped
  }
}

HSMKMS_TEST(BadSizesAndDestroyedKeys) {
  const auto key = KeyFromHex(kKatDataKey);
  const auto id = FromHex(kKatMessageId);
  std::vector<uint8_t> m(kBody + AesGcmKey::kTagSize + hsmkms::core::kFinalFrameOverhead + 4);
  const uint8_t pt[4] = {1, 2, 3, 4};
  CHECK_EQ(hsmkms::core::SealSmallMessage(*key, 0x0478, id.data(), m.data(), m.size() - 1, kBody,
                                          pt, 4),
           Status::kValidation);
  CHECK_EQ(hsmkms::core::SealSmallMessage(*key, 0x0478, id.data(), m.data(), m.size(), 31, pt, 4),
           Status::kValidation);
  key->Destroy();
  CHECK_EQ(hsmkms::core::SealSmallMessage(*key, 0x0478, id.data(), m.data(), m.size(), kBody, pt,
                                          4),
           Status::kKeyUnavailable);
  std::vector<uint8_t> out(4);
  SmallMessageCheck check;
  CHECK_EQ(OpenOne(*key, m, &out, &check), Status::kKeyUnavailable);
  CHECK(check == SmallMessageCheck::kPassed);
}
