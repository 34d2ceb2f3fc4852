// Many callers on the HSM threads at once: mixed AES-GCM encrypt/decrypt,
// random and cache-churning unwraps, with no crash, no error and a stable
// number of objects in the token.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pkcs11/hsm.h"
#include "pkcs11_fixture.h"
#include "test_support.h"

using namespace hsmkms::pkcs11;
using namespace hsmkms::test;

namespace {

constexpr int kCallers = 8;
#if defined(__SANITIZE_ADDRESS__)
// ASan's allocator slows SoftHSM (uninstrumented, but allocation-heavy) about
// five-fold: a quarter of the operations keeps the sanitized run near 10 s.
constexpr int kOpsPerCaller = 5000;
#else
constexpr int kOpsPerCaller = 20000;
#endif
constexpr size_t kKeys = 16;        // more keys than the cache holds:
constexpr size_t kCacheSize = 8;    // misses unwrap, evictions destroy

}  // namespace

HSMKMS_TEST(MixedOperationsFromManyCallers) {
  HsmConfig config = Config();
  config.threads = 2;
  config.key_cache_capacity = kCacheSize;
  auto hsm = OpenHsm(config);
  std::vector<WrappedKey> keys;
  for (size_t i = 0; i < kKeys; ++i) keys.push_back(NewAesKey(*hsm, 1, "cmk-" + std::to_string(i)));
  size_t base = 0;
  REQUIRE_OK(hsm->CountObjects(&base));

  const std::vector<uint8_t> aad = Bytes("stress context");
  std::atomic<int> failures{0};
  std::atomic<int> mismatches{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      uint8_t iv[Hsm::kGcmIvSize] = {0};
      uint8_t plaintext[32], sealed[32 + Hsm::kGcmTagSize], opened[32 + Hsm::kGcmTagSize];
      for (int i = 0; i < kOpsPerCaller; ++i) {
        // What the binding will do: each call is a task on an HSM thread.
        OnHsmThread([&] {
          HsmResult result;
          switch (i % 4) {
            case 0:  // random
              result = hsm->GenerateRandom(plaintext, sizeof(plaintext));
              break;
            case 1:  // encrypt with the caller's hot key
              iv[0] = static_cast<uint8_t>(i);
              result = hsm->Encrypt(keys[c % kKeys], iv, aad.data(), aad.size(), plaintext,
                                    sizeof(plaintext), sealed);
              break;
            case 2: {  // decrypt what case 1 sealed
              size_t len = 0;
              result = hsm->Decrypt(keys[c % kKeys], iv, aad.data(), aad.size(), sealed,
                                    sizeof(sealed), opened, sizeof(opened), &len);
              if (result.ok() && (len != 32 || std::memcmp(opened, plaintext, 32) != 0)) {
                ++mismatches;
              }
              break;
            }
            default:  // any key: cache misses, unwraps and evictions
              result = hsm->Encrypt(keys[rng() % kKeys], iv, aad.data(), aad.size(), plaintext,
                                    sizeof(plaintext), opened);
              break;
          }
          if (!result.ok()) {
            if (failures.fetch_add(1) < 5) RecordFailure(__FILE__, __LINE__, Describe(result));
          }
        });
      }
    });
  }
  for (auto& caller : callers) caller.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const HsmStats stats = hsm->hsm_stats();
  std::printf("%d callers x %d ops on %zu HSM threads: %.2f s (%.0f ops/s), %llu unwraps\n",
              kCallers, kOpsPerCaller, config.threads, seconds,
              kCallers * kOpsPerCaller / seconds, static_cast<unsigned long long>(stats.unwraps));

  CHECK_EQ(failures.load(), 0);
  CHECK_EQ(mismatches.load(), 0);
  CHECK(stats.unwraps > kKeys);  // the cache churned
  CHECK(stats.cached_keys <= kCacheSize);
  CHECK(stats.worker_sessions <= config.threads);
  // Nothing unwrapped yet at `base`: after the run, exactly the cached keys.
  size_t after = 0;
  REQUIRE_OK(hsm->CountObjects(&after));
  CHECK_EQ(after, base + stats.cached_keys);
  hsm.reset();
  auto fresh = OpenHsm();
  REQUIRE_OK(fresh->CountObjects(&after));
  CHECK_EQ(after, base);
}
