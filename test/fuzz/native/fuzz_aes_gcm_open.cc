// IV || ciphertext || tag under a fixed key: AesGcmKey::Open (sealed bytes
// the binding hands over) and OpenKey (a data key sealed under another key).
// Byte 0 picks the mode and splits AAD from the sealed bytes:
//   open: kOk, or kInvalidCiphertext with the output wiped;
//   seal: the rest is plaintext: seal then open gives it back.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_support.h"
#include "key_transforms.h"

using hsmkms::core::AesGcmKey;
using hsmkms::core::Status;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto& key = hsmkms::fuzz::FixedGcmKey(0x42);
  const size_t aad_len = std::min<size_t>((data[0] >> 2) & 0x1f, size - 1);
  const uint8_t* aad = data + 1;
  const uint8_t* in = aad + aad_len;
  const size_t len = size - 1 - aad_len;

  switch (data[0] & 3) {
    case 0: {  // Open
      std::vector<uint8_t> out(len > AesGcmKey::kOverhead ? len - AesGcmKey::kOverhead : 0, 0xee);
      const Status st = key.Open(in, len, aad, aad_len, out.data());
      if (st == Status::kOk) {
        FUZZ_CHECK(len >= AesGcmKey::kOverhead);
      } else {
        FUZZ_CHECK(st == Status::kInvalidCiphertext);
        FUZZ_CHECK(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0 || b == 0xee; }));
      }
      return 0;
    }
    case 1: {  // OpenKey
      std::shared_ptr<AesGcmKey> opened;
      const Status st = hsmkms::core::OpenKey(key, in, len, aad, aad_len, &opened);
      if (st == Status::kOk) {
        FUZZ_CHECK(opened != nullptr && len == AesGcmKey::kKeySize + AesGcmKey::kOverhead);
      } else {
        FUZZ_CHECK(st == Status::kInvalidCiphertext && opened == nullptr);
      }
      return 0;
    }
    default: {  // Seal then Open
      std::vector<uint8_t> sealed(len + AesGcmKey::kOverhead);
      FUZZ_CHECK(key.Seal(nullptr, in, len, aad, aad_len, sealed.data()) == Status::kOk);
      std::vector<uint8_t> back(len + 1);
      FUZZ_CHECK(key.Open(sealed.data(), sealed.size(), aad, aad_len, back.data()) == Status::kOk);
      FUZZ_CHECK(len == 0 || std::memcmp(back.data(), in, len) == 0);
      sealed[sealed.size() - 1] ^= 1;  // a flipped tag bit never opens
      FUZZ_CHECK(key.Open(sealed.data(), sealed.size(), aad, aad_len, back.data()) ==
                 Status::kInvalidCiphertext);
      return 0;
    }
  }
}
