// AesGcmKey: seal/open round trips, in-place operation, tag failures,
// destroy, import validation and many threads sharing one key.
#include "aes_gcm_key.h"

#include <openssl/err.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "secure_memory.h"
#include "test_support.h"

using hsmkms::core::AesGcmKey;
using hsmkms::core::GetSecureMemoryStats;
using hsmkms::core::Status;

namespace {

constexpr size_t kOverhead = AesGcmKey::kOverhead;
constexpr size_t kIv = AesGcmKey::kIvSize;

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
  return out;
}

std::shared_ptr<AesGcmKey> MakeKey(uint8_t seed = 7) {
  const std::vector<uint8_t> bytes = Pattern(AesGcmKey::kKeySize, seed);
  std::shared_ptr<AesGcmKey> key;
  REQUIRE_EQ(AesGcmKey::Import(bytes.data(), bytes.size(), &key), Status::kOk);
  REQUIRE(key != nullptr);
  return key;
}

std::vector<uint8_t> SealVec(AesGcmKey& key, const std::vector<uint8_t>& plaintext,
                             const std::vector<uint8_t>& aad, const uint8_t* iv = nullptr) {
  std::vector<uint8_t> sealed(plaintext.size() + kOverhead);
  REQUIRE_EQ(key.Seal(iv, plaintext.data(), plaintext.size(), aad.data(), aad.size(),
                      sealed.data()),
             Status::kOk);
  return sealed;
}

Status OpenVec(AesGcmKey& key, const std::vector<uint8_t>& sealed, const std::vector<uint8_t>& aad,
               std::vector<uint8_t>* plaintext) {
  plaintext->assign(sealed.size() >= kOverhead ? sealed.size() - kOverhead : 0, 0xAA);
  return key.Open(sealed.data(), sealed.size(), aad.data(), aad.size(), plaintext->data());
}

void RoundTrip(size_t len) {
  auto key = MakeKey();
  const std::vector<uint8_t> plaintext = Pattern(len, 3);
  for (const std::vector<uint8_t>& aad : {std::vector<uint8_t>{}, Pattern(20, 9)}) {
    const std::vector<uint8_t> sealed = SealVec(*key, plaintext, aad);
    REQUIRE_EQ(sealed.size(), len + kOverhead);
    if (len >= 16) {
      // The ciphertext is not the plaintext.
      CHECK(!std::equal(plaintext.begin(), plaintext.begin() + 16, sealed.begin() + kIv));
    }
    std::vector<uint8_t> opened;
    CHECK_EQ(OpenVec(*key, sealed, aad, &opened), Status::kOk);
    CHECK(opened == plaintext);
    // The other AAD (none vs some, or some vs none) must not authenticate.
    const std::vector<uint8_t> other = aad.empty() ? Pattern(1, 0) : std::vector<uint8_t>{};
    CHECK_EQ(OpenVec(*key, sealed, other, &opened), Status::kInvalidCiphertext);
  }
  CHECK(ERR_peek_error() == 0);  // the thread's OpenSSL error queue stays clean
}

bool AllZero(const std::vector<uint8_t>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

HSMKMS_TEST(RoundTripEmpty) { RoundTrip(0); }
HSMKMS_TEST(RoundTripOneByte) { RoundTrip(1); }
HSMKMS_TEST(RoundTripOneBlock) { RoundTrip(16); }
HSMKMS_TEST(RoundTripUnaligned) { RoundTrip(1000); }
HSMKMS_TEST(RoundTripOneMiB) { RoundTrip(size_t{1} << 20); }

HSMKMS_TEST(EmptyPlaintextWithNullPointer) {
  auto key = MakeKey();
  uint8_t sealed[kOverhead];
  REQUIRE_EQ(key->Seal(nullptr, nullptr, 0, nullptr, 0, sealed), Status::kOk);
  uint8_t unused = 0;
  CHECK_EQ(key->Open(sealed, sizeof sealed, nullptr, 0, &unused), Status::kOk);
}

HSMKMS_TEST(GivenIvIsDeterministic) {
  auto key = MakeKey();
  const std::vector<uint8_t> iv = Pattern(kIv, 0x40), plaintext = Pattern(100, 1);
  const std::vector<uint8_t> a = SealVec(*key, plaintext, {}, iv.data());
  const std::vector<uint8_t> b = SealVec(*key, plaintext, {}, iv.data());
  CHECK(a == b);
  CHECK(std::equal(iv.begin(), iv.end(), a.begin()));
}

HSMKMS_TEST(RandomIvsDiffer) {
  auto key = MakeKey();
  const std::vector<uint8_t> plaintext = Pattern(32, 1);
  const std::vector<uint8_t> a = SealVec(*key, plaintext, {}), b = SealVec(*key, plaintext, {});
  CHECK(!std::equal(a.begin(), a.begin() + kIv, b.begin()));
  CHECK(a != b);
}

HSMKMS_TEST(SealInPlace) {
  auto key = MakeKey();
  const std::vector<uint8_t> iv = Pattern(kIv, 0x50), aad = Pattern(13, 2);
  for (size_t len : {0u, 1u, 16u, 4099u}) {
    const std::vector<uint8_t> plaintext = Pattern(len, 5);
    const std::vector<uint8_t> expected = SealVec(*key, plaintext, aad, iv.data());
    // plaintext at buffer + kIvSize, sealed over the same buffer.
    std::vector<uint8_t> buffer(len + kOverhead, 0);
    std::copy(plaintext.begin(), plaintext.end(), buffer.begin() + kIv);
    REQUIRE_EQ(key->Seal(iv.data(), buffer.data() + kIv, len, aad.data(), aad.size(), buffer.data()),
               Status::kOk);
    CHECK(buffer == expected);
    // Random IV in place too.
    std::copy(plaintext.begin(), plaintext.end(), buffer.begin() + kIv);
    REQUIRE_EQ(key->Seal(nullptr, buffer.data() + kIv, len, aad.data(), aad.size(), buffer.data()),
               Status::kOk);
    std::vector<uint8_t> opened;
    CHECK_EQ(OpenVec(*key, buffer, aad, &opened), Status::kOk);
    CHECK(opened == plaintext);
  }
}

HSMKMS_TEST(OpenInPlace) {
  auto key = MakeKey();
  const std::vector<uint8_t> aad = Pattern(5, 8);
  for (size_t len : {0u, 1u, 16u, 4099u}) {
    const std::vector<uint8_t> plaintext = Pattern(len, 6);
    std::vector<uint8_t> buffer = SealVec(*key, plaintext, aad);
    REQUIRE_EQ(key->Open(buffer.data(), buffer.size(), aad.data(), aad.size(), buffer.data() + kIv),
               Status::kOk);
    CHECK(std::equal(plaintext.begin(), plaintext.end(), buffer.begin() + kIv));
  }
}

HSMKMS_TEST(TamperingFailsAndWipesOutput) {
  auto key = MakeKey();
  const std::vector<uint8_t> aad = Pattern(16, 4), plaintext = Pattern(64, 2);
  const std::vector<uint8_t> sealed = SealVec(*key, plaintext, aad);
  // Flip one bit in the IV, the ciphertext and the tag in turn.
  for (size_t at : {size_t{0}, kIv, kIv + 63, sealed.size() - 1}) {
    std::vector<uint8_t> bad = sealed;
    bad[at] ^= 0x01;
    std::vector<uint8_t> opened;
    CHECK_EQ(OpenVec(*key, bad, aad, &opened), Status::kInvalidCiphertext);
    CHECK_EQ(opened.size(), plaintext.size());
    CHECK(AllZero(opened));  // the decrypted bytes never reach the caller
  }
  std::vector<uint8_t> bad_aad = aad, opened;
  bad_aad[0] ^= 0x80;
  CHECK_EQ(OpenVec(*key, sealed, bad_aad, &opened), Status::kInvalidCiphertext);
  CHECK(AllZero(opened));
  // Another key.
  auto other = MakeKey(99);
  CHECK_EQ(OpenVec(*other, sealed, aad, &opened), Status::kInvalidCiphertext);
  CHECK(AllZero(opened));
  CHECK(ERR_peek_error() == 0);
  // The key still works after failures.
  CHECK_EQ(OpenVec(*key, sealed, aad, &opened), Status::kOk);
  CHECK(opened == plaintext);
}

HSMKMS_TEST(InPlaceTagFailureWipesPlaintext) {
  auto key = MakeKey();
  const std::vector<uint8_t> plaintext = Pattern(300, 1);
  std::vector<uint8_t> buffer = SealVec(*key, plaintext, {});
  buffer.back() ^= 0x10;
  CHECK_EQ(key->Open(buffer.data(), buffer.size(), nullptr, 0, buffer.data() + kIv),
           Status::kInvalidCiphertext);
  CHECK(std::all_of(buffer.begin() + kIv, buffer.end() - AesGcmKey::kTagSize,
                    [](uint8_t b) { return b == 0; }));
}

// A ciphertext opened in pieces of odd sizes (as a frame spanning the
// chunks it arrived in) gives the bytes Open gives; a bad tag wipes them all.
HSMKMS_TEST(OpenPiecesMatchesOpenAndWipesOnFailure) {
  auto key = MakeKey();
  const std::vector<uint8_t> aad = Pattern(40, 5), plaintext = Pattern(1000, 6);
  const std::vector<uint8_t> sealed = SealVec(*key, plaintext, aad);
  const uint8_t* ciphertext = sealed.data() + kIv;
  const uint8_t* tag = sealed.data() + kIv + plaintext.size();
  const size_t cuts[] = {0, 1, 15, 16, 17, 500, 999, 1000};
  std::vector<AesGcmKey::Piece> pieces;
  for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
    pieces.push_back({ciphertext + cuts[i], cuts[i + 1] - cuts[i]});
  }
  std::vector<uint8_t> opened(plaintext.size(), 0xAA);
  CHECK_EQ(key->OpenPieces(sealed.data(), pieces.data(), pieces.size(), tag, aad.data(), aad.size(),
                           opened.data()),
           Status::kOk);
  CHECK(opened == plaintext);
  std::vector<uint8_t> bad_tag(tag, tag + AesGcmKey::kTagSize);
  bad_tag[3] ^= 0x10;
  CHECK_EQ(key->OpenPieces(sealed.data(), pieces.data(), pieces.size(), bad_tag.data(), aad.data(),
                           aad.size(), opened.data()),
           Status::kInvalidCiphertext);
  CHECK(AllZero(opened));
  CHECK(ERR_peek_error() == 0);
}

HSMKMS_TEST(TooShortIsInvalidCiphertext) {
  auto key = MakeKey();
  uint8_t sealed[kOverhead] = {};
  uint8_t out = 0;
  for (size_t len = 0; len < kOverhead; ++len) {
    CHECK_EQ(key->Open(sealed, len, nullptr, 0, &out), Status::kInvalidCiphertext);
  }
  // Exactly the overhead: an empty message whose (all-zero) tag is wrong.
  CHECK_EQ(key->Open(sealed, kOverhead, nullptr, 0, &out), Status::kInvalidCiphertext);
}

HSMKMS_TEST(DestroyThenSealOpenIsKeyUnavailable) {
  const size_t blocks_before = GetSecureMemoryStats().live_blocks;
  auto key = MakeKey();
  CHECK_EQ(GetSecureMemoryStats().live_blocks, blocks_before + 1);
  const std::vector<uint8_t> plaintext = Pattern(40, 1);
  const std::vector<uint8_t> sealed = SealVec(*key, plaintext, {});
  CHECK(!key->destroyed());
  key->Destroy();
  CHECK(key->destroyed());
  CHECK_EQ(GetSecureMemoryStats().live_blocks, blocks_before);  // key bytes released now
  std::vector<uint8_t> out(plaintext.size() + kOverhead);
  CHECK_EQ(key->Seal(nullptr, plaintext.data(), plaintext.size(), nullptr, 0, out.data()),
           Status::kKeyUnavailable);
  std::vector<uint8_t> opened;
  CHECK_EQ(OpenVec(*key, sealed, {}, &opened), Status::kKeyUnavailable);
  key->Destroy();  // idempotent
  CHECK(key->destroyed());
}

HSMKMS_TEST(ImportWrongLengthIsValidation) {
  const std::vector<uint8_t> bytes = Pattern(64, 0);
  for (size_t len : {0u, 1u, 16u, 24u, 31u, 33u, 64u}) {
    std::shared_ptr<AesGcmKey> key;
    CHECK_EQ(AesGcmKey::Import(bytes.data(), len, &key), Status::kValidation);
    CHECK(key == nullptr);
  }
}

HSMKMS_TEST(ImportCopiesTheBytes) {
  std::vector<uint8_t> bytes = Pattern(AesGcmKey::kKeySize, 1);
  std::shared_ptr<AesGcmKey> key;
  REQUIRE_EQ(AesGcmKey::Import(bytes.data(), bytes.size(), &key), Status::kOk);
  const std::vector<uint8_t> iv = Pattern(kIv, 2), plaintext = Pattern(10, 3);
  const std::vector<uint8_t> before = SealVec(*key, plaintext, {}, iv.data());
  std::fill(bytes.begin(), bytes.end(), 0);  // the caller wipes its copy
  CHECK(SealVec(*key, plaintext, {}, iv.data()) == before);
}

HSMKMS_TEST(GeneratedKeysDiffer) {
  std::shared_ptr<AesGcmKey> a, b;
  REQUIRE_EQ(AesGcmKey::Generate(&a), Status::kOk);
  REQUIRE_EQ(AesGcmKey::Generate(&b), Status::kOk);
  const std::vector<uint8_t> iv = Pattern(kIv, 2), plaintext = Pattern(32, 3);
  const std::vector<uint8_t> sa = SealVec(*a, plaintext, {}, iv.data());
  CHECK(sa != SealVec(*b, plaintext, {}, iv.data()));
  std::vector<uint8_t> opened;
  CHECK_EQ(OpenVec(*a, sa, {}, &opened), Status::kOk);
  CHECK_EQ(OpenVec(*b, sa, {}, &opened), Status::kInvalidCiphertext);
}

HSMKMS_TEST(KeyReleasesSecureMemory) {
  const size_t before = GetSecureMemoryStats().live_blocks;
  {
    auto key = MakeKey();
    const std::vector<uint8_t> sealed = SealVec(*key, Pattern(8, 1), {});
    CHECK_EQ(GetSecureMemoryStats().live_blocks, before + 1);
  }
  CHECK_EQ(GetSecureMemoryStats().live_blocks, before);
}

HSMKMS_TEST(ManyThreadsShareOneKey) {
  // Each thread borrows its own context from the key's pool; results must be
  // identical to a single-threaded run.
  auto key = MakeKey();
  const std::vector<uint8_t> aad = Pattern(12, 1);
  constexpr int kThreads = 8, kMessages = 300;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kMessages; ++i) {
        const size_t len = static_cast<size_t>((i * 37 + t * 11) % 2000);
        const std::vector<uint8_t> plaintext = Pattern(len, static_cast<uint8_t>(t + i));
        std::vector<uint8_t> sealed(len + kOverhead), opened(len);
        if (key->Seal(nullptr, plaintext.data(), len, aad.data(), aad.size(), sealed.data()) !=
                Status::kOk ||
            key->Open(sealed.data(), sealed.size(), aad.data(), aad.size(), opened.data()) !=
                Status::kOk ||
            opened != plaintext) {
          ++failures;
        }
        sealed.back() ^= 1;
        if (key->Open(sealed.data(), sealed.size(), aad.data(), aad.size(), opened.data()) !=
            Status::kInvalidCiphertext) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK_EQ(failures.load(), 0);
  // Deterministic output with a fixed IV is the same from every thread.
  const std::vector<uint8_t> iv = Pattern(kIv, 9), plaintext = Pattern(500, 4);
  const std::vector<uint8_t> expected = SealVec(*key, plaintext, aad, iv.data());
  std::vector<std::vector<uint8_t>> results(kThreads);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::vector<uint8_t> out(plaintext.size() + kOverhead);
        if (key->Seal(iv.data(), plaintext.data(), plaintext.size(), aad.data(), aad.size(),
                      out.data()) != Status::kOk) {
          ++failures;
        }
        results[t] = std::move(out);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK_EQ(failures.load(), 0);
  for (const auto& result : results) CHECK(result == expected);
}

HSMKMS_TEST(DestroyWhileThreadsUseTheKey) {
  // Operations racing Destroy either complete or report kKeyUnavailable;
  // borrowed contexts are freed when returned (LeakSanitizer checks).
  const size_t blocks_before = GetSecureMemoryStats().live_blocks;
  auto key = MakeKey();
  std::atomic<int> ok{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      const std::vector<uint8_t> plaintext = Pattern(4096, 1);
      std::vector<uint8_t> sealed(plaintext.size() + kOverhead), opened(plaintext.size());
      // Runs until this thread sees the key gone.
      for (;;) {
        const Status s =
            key->Seal(nullptr, plaintext.data(), plaintext.size(), nullptr, 0, sealed.data());
        if (s == Status::kKeyUnavailable) return;
        if (s != Status::kOk) {
          ++other;
          return;
        }
        const Status o = key->Open(sealed.data(), sealed.size(), nullptr, 0, opened.data());
        if (o == Status::kKeyUnavailable) return;
        if (o != Status::kOk || opened != plaintext) {
          ++other;
          return;
        }
        ++ok;
      }
    });
  }
  while (ok.load() < 200 && other.load() == 0) std::this_thread::yield();
  key->Destroy();
  for (auto& thread : threads) thread.join();
  CHECK_EQ(other.load(), 0);
  CHECK_EQ(GetSecureMemoryStats().live_blocks, blocks_before);
}
