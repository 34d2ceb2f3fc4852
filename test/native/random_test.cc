// RandomBytes / PrivateRandomBytes / RandomIv: OpenSSL's DRBGs behind a Status.
#include "random.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "test_support.h"

using hsmkms::core::PrivateRandomBytes;
using hsmkms::core::RandomBytes;
using hsmkms::core::Status;

namespace {

template <Status (*Fill)(uint8_t*, size_t) noexcept>
void ChecksFillAndDiffer() {
  std::vector<uint8_t> a(64, 0), b(64, 0);
  REQUIRE_EQ(Fill(a.data(), a.size()), Status::kOk);
  REQUIRE_EQ(Fill(b.data(), b.size()), Status::kOk);
  CHECK(a != b);
  CHECK(a != std::vector<uint8_t>(64, 0));
}

// Every byte value shows up in 1 MiB, and no value is wildly over-represented
// (expected 4096 each; these bounds are > 15 standard deviations wide).
template <Status (*Fill)(uint8_t*, size_t) noexcept>
void ChecksDistribution() {
  std::vector<uint8_t> data(1 << 20);
  REQUIRE_EQ(Fill(data.data(), data.size()), Status::kOk);
  std::array<size_t, 256> counts{};
  for (uint8_t byte : data) ++counts[byte];
  for (size_t count : counts) {
    CHECK(count > 3000);
    CHECK(count < 5200);
  }
}

}  // namespace

HSMKMS_TEST(RandomBytesFillsAndDiffers) { ChecksFillAndDiffer<RandomBytes>(); }

HSMKMS_TEST(PrivateRandomBytesFillsAndDiffers) { ChecksFillAndDiffer<PrivateRandomBytes>(); }

HSMKMS_TEST(ZeroLengthIsOk) {
  CHECK_EQ(RandomBytes(nullptr, 0), Status::kOk);
  CHECK_EQ(PrivateRandomBytes(nullptr, 0), Status::kOk);
}

HSMKMS_TEST(OddLengthsWriteExactly) {
  // Writes exactly len bytes: the guard bytes around the range stay untouched.
  for (size_t len : {1u, 7u, 12u, 33u, 4097u}) {
    std::vector<uint8_t> buffer(len + 2, 0xEE);
    REQUIRE_EQ(RandomBytes(buffer.data() + 1, len), Status::kOk);
    CHECK_EQ(buffer.front(), uint8_t{0xEE});
    CHECK_EQ(buffer.back(), uint8_t{0xEE});
  }
}

HSMKMS_TEST(RandomBytesDistribution) { ChecksDistribution<RandomBytes>(); }

HSMKMS_TEST(PrivateRandomBytesDistribution) { ChecksDistribution<PrivateRandomBytes>(); }

HSMKMS_TEST(RandomIvsAreDistinct) {
  // Far more IVs than one refill of the per-thread buffer.
  std::set<std::vector<uint8_t>> seen;
  for (int i = 0; i < 5000; ++i) {
    std::vector<uint8_t> iv(12 + 2, 0xEE);
    REQUIRE_EQ(hsmkms::core::RandomIv(iv.data() + 1), Status::kOk);
    CHECK_EQ(iv.front(), uint8_t{0xEE});  // exactly 12 bytes written
    CHECK_EQ(iv.back(), uint8_t{0xEE});
    seen.insert(std::vector<uint8_t>(iv.begin() + 1, iv.end() - 1));
  }
  CHECK_EQ(seen.size(), size_t{5000});
}

HSMKMS_TEST(RandomIvsDifferAcrossThreads) {
  std::vector<std::vector<std::vector<uint8_t>>> per_thread(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < per_thread.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        std::vector<uint8_t> iv(12);
        if (hsmkms::core::RandomIv(iv.data()) == Status::kOk) per_thread[t].push_back(iv);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::vector<uint8_t>> seen;
  for (const auto& ivs : per_thread) {
    CHECK_EQ(ivs.size(), size_t{1000});
    seen.insert(ivs.begin(), ivs.end());
  }
  CHECK_EQ(seen.size(), size_t{4000});
}

HSMKMS_TEST(ForkedChildDrawsOtherIvs) {
  // Parent and child share the buffered DRBG output at fork time; the child
  // must discard it rather than hand out the parent's next IVs.
  uint8_t first[12];
  REQUIRE_EQ(hsmkms::core::RandomIv(first), Status::kOk);  // fills this thread's buffer
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    uint8_t ivs[4 * 12];
    bool ok = true;
    for (int i = 0; i < 4; ++i) ok = ok && hsmkms::core::RandomIv(ivs + 12 * i) == Status::kOk;
    const bool written = ok && write(fds[1], ivs, sizeof ivs) == static_cast<ssize_t>(sizeof ivs);
    _exit(written ? 0 : 1);
  }
  close(fds[1]);
  uint8_t parent[4 * 12];
  for (int i = 0; i < 4; ++i) REQUIRE_EQ(hsmkms::core::RandomIv(parent + 12 * i), Status::kOk);
  uint8_t child[4 * 12];
  size_t got = 0;
  while (got < sizeof child) {
    const ssize_t n = read(fds[0], child + got, sizeof child - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  REQUIRE_EQ(got, sizeof child);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) CHECK(std::memcmp(parent + 12 * i, child + 12 * j, 12) != 0);
  }
}
