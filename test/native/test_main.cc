// The runner linked into every test executable:
//   <exe>            runs every test in the file
//   <exe> NAME...    runs the named tests (what ctest does, one per process)
//   <exe> --list     prints the names
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.h"

namespace hsmkms::test {
namespace {

struct TestCase {
  const char* name;
  TestFn fn;
};

std::vector<TestCase>& Registry() {
  static std::vector<TestCase> tests;
  return tests;
}

std::mutex failure_mutex;
std::atomic<size_t> failures{0};

}  // namespace

Registrar::Registrar(const char* name, TestFn fn) { Registry().push_back({name, fn}); }

void RecordFailure(const char* file, int line, const std::string& message) {
  std::lock_guard<std::mutex> lock(failure_mutex);
  std::fprintf(stderr, "%s:%d: failure: %s\n", file, line, message.c_str());
  std::fflush(stderr);
  ++failures;
}

std::vector<uint8_t> FromHex(const std::string& hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  REQUIRE(hex.size() % 2 == 0);
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    REQUIRE(hi >= 0 && lo >= 0);
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string ToHex(const uint8_t* data, size_t len) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    RecordFailure(__FILE__, __LINE__, "cannot read " + path);
    throw FatalFailure{};
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

namespace {

enum class Outcome { kPassed, kFailed, kSkipped };

Outcome RunOne(const TestCase& test) {
  std::printf("[ RUN      ] %s\n", test.name);
  std::fflush(stdout);
  const size_t before = failures.load();
  try {
    test.fn();
  } catch (const FatalFailure&) {
    // Already reported.
  } catch (const Skipped& skipped) {
    if (failures.load() == before) {
      std::printf("[  SKIPPED ] %s: %s\n", test.name, skipped.reason);
      std::fflush(stdout);
      return Outcome::kSkipped;
    }
  } catch (const std::exception& e) {
    RecordFailure(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
  } catch (...) {
    RecordFailure(__FILE__, __LINE__, "uncaught non-standard exception");
  }
  const bool ok = failures.load() == before;
  std::printf("[ %s ] %s\n", ok ? "      OK" : " FAILED ", test.name);
  std::fflush(stdout);
  return ok ? Outcome::kPassed : Outcome::kFailed;
}

}  // namespace
}  // namespace hsmkms::test

int main(int argc, char** argv) {
  using hsmkms::test::Registry;
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const auto& test : Registry()) std::printf("%s\n", test.name);
    return 0;
  }
  using hsmkms::test::Outcome;
  size_t failed = 0, skipped = 0, ran = 0;
  for (const auto& test : Registry()) {
    bool selected = argc == 1;
    for (int i = 1; i < argc && !selected; ++i) selected = std::strcmp(argv[i], test.name) == 0;
    if (!selected) continue;
    ++ran;
    const Outcome outcome = hsmkms::test::RunOne(test);
    if (outcome == Outcome::kFailed) ++failed;
    if (outcome == Outcome::kSkipped) ++skipped;
  }
  if (ran == 0 || (argc > 1 && ran != static_cast<size_t>(argc - 1))) {
    std::fprintf(stderr, "no such test among the arguments (see --list)\n");
    return 2;
  }
  if (failed > 0) return 1;
  return skipped == ran ? 77 : 0;  // 77: ctest's SKIP_RETURN_CODE
}
