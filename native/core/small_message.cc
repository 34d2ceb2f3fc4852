#include "small_message.h"

#include <openssl/crypto.h>

#include <cstring>
#include <memory>

#include "esdk_frame.h"
#include "message_keys.h"

namespace hsmkms::core {
namespace {

constexpr size_t kIv = AesGcmKey::kIvSize;
constexpr size_t kTag = AesGcmKey::kTagSize;
constexpr uint32_t kFinalMarker = 0xffffffffu;
constexpr size_t kFrameAadSize = esdk::kMaxBodyAad;

using esdk::GetU32;
using esdk::PutU32;

// The frame IV (8 zero bytes || u32 seq) of sequence number 1.
void FirstFrameIv(uint8_t* iv) noexcept { esdk::FrameIv(1, iv); }

// message ID || "AWSKMSEncryptionClient Final Frame" || u32 seq (1) || u64 length
void FinalFrameAad(const uint8_t* message_id, size_t length, uint8_t* aad) noexcept {
  esdk::BodyAad(message_id, kMessageIdSize, true, 1, length, aad);
}

Status Seal(AesGcmKey& key, uint8_t* message, size_t header_body_len, const uint8_t* message_id,
            const uint8_t* plaintext, size_t plaintext_len) noexcept {
  // Header tag: empty plaintext, IV zero, AAD = the header body.
  uint8_t header_sealed[kIv + kTag] = {};
  Status status = key.Seal(header_sealed, nullptr, 0, message, header_body_len, header_sealed);
  if (status != Status::kOk) return status;
  std::memcpy(message + header_body_len, header_sealed + kIv, kTag);
  // The engine writes IV || ciphertext || tag at frame + 12, so that the
  // ciphertext lands at frame + 24; the real header fields then overwrite
  // that IV copy (as lib/envelope/frame-codec does).
  uint8_t* frame = message + header_body_len + kTag;
  uint8_t iv[kIv];
  FirstFrameIv(iv);
  uint8_t aad[kFrameAadSize];
  FinalFrameAad(message_id, plaintext_len, aad);
  status = key.Seal(iv, plaintext, plaintext_len, aad, sizeof aad, frame + 12);
  if (status != Status::kOk) return status;
  PutU32(frame, kFinalMarker);
  PutU32(frame + 4, 1);
  std::memcpy(frame + 8, iv, kIv);
  PutU32(frame + 20, static_cast<uint32_t>(plaintext_len));
  return Status::kOk;
}

bool IsFirstFinalFrame(const uint8_t* frame, size_t frame_len, size_t out_len) noexcept {
  uint8_t iv[kIv];
  FirstFrameIv(iv);
  return frame_len == kFinalFrameOverhead + out_len && GetU32(frame) == kFinalMarker &&
         GetU32(frame + 4) == 1 && std::memcmp(frame + 8, iv, kIv) == 0 &&
         GetU32(frame + 20) == out_len;
}

}  // namespace

Status SealSmallMessage(const AesGcmKey& data_key, uint16_t suite_id, const uint8_t* message_id,
                        uint8_t* message, size_t message_len, size_t header_body_len,
                        const uint8_t* plaintext, size_t plaintext_len) {
  if (header_body_len < kCommitKeySize || plaintext_len > UINT32_MAX ||
      message_len != header_body_len + kTag + kFinalFrameOverhead + plaintext_len) {
    return Status::kValidation;
  }
  uint8_t* commit_slot = message + header_body_len - kCommitKeySize;
  std::shared_ptr<AesGcmKey> content_key;
  Status status = DeriveMessageKeys(data_key, suite_id, message_id, commit_slot, &content_key);
  if (status == Status::kOk) {
    status = Seal(*content_key, message, header_body_len, message_id, plaintext, plaintext_len);
  }
  if (status != Status::kOk) {
    OPENSSL_cleanse(commit_slot, message_len - (header_body_len - kCommitKeySize));
  }
  return status;
}

namespace {

Status Open(const AesGcmKey& data_key, uint16_t suite_id, const uint8_t* message_id,
            const uint8_t* commit_key, const uint8_t* header_aad, size_t header_aad_len,
            const uint8_t* header_tag, const uint8_t* frame, size_t frame_len, uint8_t* out,
            size_t out_len, SmallMessageCheck* check) {
  uint8_t expected_commit[kCommitKeySize];
  std::shared_ptr<AesGcmKey> content_key;
  Status status = DeriveMessageKeys(data_key, suite_id, message_id, expected_commit, &content_key);
  if (status != Status::kOk) return status;
  // Constant time, and before anything is decrypted.
  if (CRYPTO_memcmp(expected_commit, commit_key, kCommitKeySize) != 0) {
    *check = SmallMessageCheck::kCommitment;
    return Status::kInvalidCiphertext;
  }
  const uint8_t zero_iv[kIv] = {};
  status = content_key->OpenParts(zero_iv, nullptr, 0, header_tag, header_aad, header_aad_len,
                                  nullptr);
  if (status != Status::kOk) {
    if (status == Status::kInvalidCiphertext) *check = SmallMessageCheck::kHeaderTag;
    return status;
  }
  if (!IsFirstFinalFrame(frame, frame_len, out_len)) {
    *check = SmallMessageCheck::kFrame;
    return Status::kInvalidCiphertext;
  }
  uint8_t aad[kFrameAadSize];
  FinalFrameAad(message_id, out_len, aad);
  status = content_key->OpenParts(frame + 8, frame + 24, out_len, frame + 24 + out_len, aad,
                                  sizeof aad, out);
  if (status == Status::kInvalidCiphertext) *check = SmallMessageCheck::kFrame;
  return status;
}

}  // namespace

Status OpenSmallMessage(const AesGcmKey& data_key, uint16_t suite_id, const uint8_t* message_id,
                        const uint8_t* commit_key, const uint8_t* header_aad,
                        size_t header_aad_len, const uint8_t* header_tag, const uint8_t* frame,
                        size_t frame_len, uint8_t* out, size_t out_len,
                        SmallMessageCheck* check) {
  *check = SmallMessageCheck::kPassed;
  const Status status = Open(data_key, suite_id, message_id, commit_key, header_aad,
                             header_aad_len, header_tag, frame, frame_len, out, out_len, check);
  // Whatever failed, `out` holds no plaintext (nor what it held before).
  if (status != Status::kOk) OPENSSL_cleanse(out, out_len);
  return status;
}

}  // namespace hsmkms::core
