// SecureBytes: locked, no-dump memory that is cleansed when released; the
// stats count live blocks and locked bytes. Each test runs in its own
// process, so the process-wide stats start from a known state.
#include "secure_memory.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

using hsmkms::core::GetSecureMemoryStats;
using hsmkms::core::SecureBytes;
using hsmkms::core::SecureMemoryStats;

namespace {

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

size_t LiveBlocks() { return GetSecureMemoryStats().live_blocks; }

// Makes mlock obey RLIMIT_MEMLOCK in this (test) process even as root:
// drops CAP_IPC_LOCK from the effective set and caps the soft limit.
size_t LimitLocking() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2] = {};
  REQUIRE(syscall(SYS_capget, &header, caps) == 0);
  caps[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
  REQUIRE(syscall(SYS_capset, &header, caps) == 0);
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_MEMLOCK, &limit) == 0);
  const rlim_t cap = rlim_t{8} << 20;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > cap) {
    limit.rlim_cur = cap;
    REQUIRE(setrlimit(RLIMIT_MEMLOCK, &limit) == 0);
  }
  return static_cast<size_t>(limit.rlim_cur);
}

}  // namespace

HSMKMS_TEST(DefaultIsEmpty) {
  const size_t before = LiveBlocks();
  SecureBytes bytes;
  CHECK(bytes.empty());
  CHECK(bytes.data() == nullptr);
  CHECK_EQ(bytes.size(), size_t{0});
  bytes.Release();  // harmless
  CHECK_EQ(LiveBlocks(), before);
}

HSMKMS_TEST(LiveBlocksCountEveryHolder) {
  const size_t before = LiveBlocks();
  {
    SecureBytes a(32), b(64), c(65), d(5000);
    CHECK_EQ(LiveBlocks(), before + 4);
    SecureBytes moved(std::move(a));  // a move transfers, it does not allocate
    CHECK(a.empty());
    CHECK_EQ(moved.size(), size_t{32});
    CHECK_EQ(LiveBlocks(), before + 4);
    b = std::move(c);  // b's old block is released
    CHECK_EQ(b.size(), size_t{65});
    CHECK_EQ(LiveBlocks(), before + 3);
    d.Release();
    CHECK_EQ(LiveBlocks(), before + 2);
  }
  CHECK_EQ(LiveBlocks(), before);
}

HSMKMS_TEST(ZeroSizeHoldsABlock) {
  const size_t before = LiveBlocks();
  {
    SecureBytes zero(0);
    CHECK(!zero.empty());
    CHECK_EQ(zero.size(), size_t{0});
    CHECK_EQ(LiveBlocks(), before + 1);
  }
  CHECK_EQ(LiveBlocks(), before);
}

HSMKMS_TEST(ReleaseCleansSmallBlock) {
  // Small blocks live in a slab that stays mapped, so the old bytes can be
  // inspected after Release.
  for (size_t size : {1u, 32u, 64u}) {
    SecureBytes bytes(size);
    uint8_t* raw = bytes.data();
    std::memset(raw, 0xA5, size);
    const size_t before = LiveBlocks();
    bytes.Release();
    CHECK(bytes.empty());
    CHECK_EQ(bytes.size(), size_t{0});
    CHECK_EQ(LiveBlocks(), before - 1);
    CHECK(AllZero(raw, size));
  }
}

HSMKMS_TEST(DestructorCleansSmallBlock) {
  uint8_t* raw = nullptr;
  {
    SecureBytes bytes(48);
    raw = bytes.data();
    std::memset(raw, 0x5A, 48);
  }
  CHECK(AllZero(raw, 48));
}

HSMKMS_TEST(BlocksAreDistinctAcrossSlabs) {
  // More small blocks than one 64 KiB slab holds (1024 of 64 bytes).
  const size_t before = LiveBlocks();
  {
    std::vector<SecureBytes> blocks;
    std::set<uint8_t*> addresses;
    for (size_t i = 0; i < 2500; ++i) {
      blocks.emplace_back(1 + i % 64);
      std::memset(blocks.back().data(), static_cast<int>(i & 0xFF), blocks.back().size());
      addresses.insert(blocks.back().data());
    }
    CHECK_EQ(addresses.size(), blocks.size());
    CHECK_EQ(LiveBlocks(), before + 2500);
    for (size_t i = 0; i < blocks.size(); ++i) {
      const uint8_t expected = static_cast<uint8_t>(i & 0xFF);
      CHECK(std::all_of(blocks[i].data(), blocks[i].data() + blocks[i].size(),
                        [&](uint8_t b) { return b == expected; }));
    }
  }
  CHECK_EQ(LiveBlocks(), before);
}

HSMKMS_TEST(LargeBlockIsLockedAndReturned) {
  const SecureMemoryStats before = GetSecureMemoryStats();
  {
    SecureBytes big(1 << 20);
    std::memset(big.data(), 0x11, big.size());
    CHECK(big.data()[big.size() - 1] == 0x11);
    const SecureMemoryStats during = GetSecureMemoryStats();
    CHECK_EQ(during.live_blocks, before.live_blocks + 1);
    if (!during.lock_failed) CHECK_EQ(during.locked_bytes, before.locked_bytes + (size_t{1} << 20));
  }
  const SecureMemoryStats after = GetSecureMemoryStats();
  CHECK_EQ(after.live_blocks, before.live_blocks);
  CHECK_EQ(after.locked_bytes, before.locked_bytes);
}

HSMKMS_TEST(BlockBeyondLockLimitStillWorks) {
  // A block larger than RLIMIT_MEMLOCK cannot be locked: it is still usable,
  // lock_failed says so, and freeing it leaves locked_bytes as it was.
  if (hsmkms::test::kAddressSanitizer) {
    SKIP("ASan makes mlock a no-op; secure_memory_unsanitized runs this test");
  }
  SecureBytes small(16);  // a locked slab exists before the limit applies
  const size_t size = LimitLocking() * 2 + 12345;
  const SecureMemoryStats before = GetSecureMemoryStats();
  CHECK(before.locked_bytes > 0);
  CHECK(!before.lock_failed);
  {
    SecureBytes big(size);
    std::memset(big.data(), 0x22, big.size());
    const SecureMemoryStats during = GetSecureMemoryStats();
    CHECK_EQ(during.live_blocks, before.live_blocks + 1);
    CHECK(during.lock_failed);
    CHECK_EQ(during.locked_bytes, before.locked_bytes);
    // A block within the limit is still locked meanwhile.
    SecureBytes page(4096);
    CHECK_EQ(GetSecureMemoryStats().locked_bytes, before.locked_bytes + 4096);
  }
  const SecureMemoryStats after = GetSecureMemoryStats();
  CHECK_EQ(after.live_blocks, before.live_blocks);
  CHECK_EQ(after.locked_bytes, before.locked_bytes);
  CHECK(after.lock_failed);  // sticky: some secret was once unlocked
}

HSMKMS_TEST(ThreadsAllocateConcurrently) {
  const size_t before = LiveBlocks();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      std::vector<SecureBytes> held;
      for (int i = 0; i < 2000; ++i) {
        held.emplace_back(static_cast<size_t>(1 + (i * 7 + t) % 200));  // slots and pages
        std::memset(held.back().data(), t, held.back().size());
        if (held.size() > 50) held.erase(held.begin(), held.begin() + 25);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK_EQ(LiveBlocks(), before);
}
