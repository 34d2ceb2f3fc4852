// The AWS Encryption SDK's frame layout, shared by the frame runs
// (binding/aead_batch) and the one-frame small messages (core/small_message):
// big-endian integers, a frame's deterministic IV and its body AAD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hsmkms::core::esdk {

inline void PutU32(uint8_t* at, uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i, v >>= 8) at[i] = static_cast<uint8_t>(v);
}

inline void PutU64(uint8_t* at, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) at[i] = static_cast<uint8_t>(v);
}

inline uint32_t GetU32(const uint8_t* at) noexcept {
  return (uint32_t{at[0]} << 24) | (uint32_t{at[1]} << 16) | (uint32_t{at[2]} << 8) | at[3];
}

constexpr char kFrameLabel[] = "AWSKMSEncryptionClient Frame";
constexpr char kFinalFrameLabel[] = "AWSKMSEncryptionClient Final Frame";
constexpr size_t kIvSize = 12;
// Room for the longest body AAD (a 32-byte v2 message ID, the final label).
constexpr size_t kMaxBodyAad = 32 + sizeof kFinalFrameLabel - 1 + 4 + 8;

// The IV of frame `seq`: 8 zero bytes || u32 seq.
inline void FrameIv(uint32_t seq, uint8_t* iv) noexcept {
  std::memset(iv, 0, kIvSize - 4);
  PutU32(iv + kIvSize - 4, seq);
}

// message ID || frame label (regular or final) || u32 seq || u64 content
// length into `aad` (kMaxBodyAad bytes of room); returns its length.
inline size_t BodyAad(const uint8_t* message_id, size_t id_len, bool final, uint32_t seq,
                      uint64_t length, uint8_t* aad) noexcept {
  const char* label = final ? kFinalFrameLabel : kFrameLabel;
  const size_t label_len = final ? sizeof kFinalFrameLabel - 1 : sizeof kFrameLabel - 1;
  std::memcpy(aad, message_id, id_len);
  std::memcpy(aad + id_len, label, label_len);
  PutU32(aad + id_len + label_len, seq);
  PutU64(aad + id_len + label_len + 4, length);
  return id_len + label_len + 12;
}

}  // namespace hsmkms::core::esdk
