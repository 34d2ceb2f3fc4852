// A minimal test harness for the native core (no external framework).
//
//   HSMKMS_TEST(RoundTrip) { CHECK_EQ(a, b); REQUIRE(ptr != nullptr); }
//
// CMakeLists.txt finds every line starting with HSMKMS_TEST(name) and
// registers `<exe> name` as its own ctest test; test_main.cc runs it.
// CHECK* record a failure and go on; REQUIRE* stop the test; SKIP(why)
// ends it as skipped (exit code 77, which ctest reports as "Not Run").
#pragma once

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "status.h"

namespace hsmkms::test {

using TestFn = void (*)();

struct Registrar {
  Registrar(const char* name, TestFn fn);
};

// Thrown by REQUIRE*: ends the current test.
struct FatalFailure {};
// Thrown by SKIP.
struct Skipped {
  const char* reason;
};

// True in a build instrumented by AddressSanitizer.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

void RecordFailure(const char* file, int line, const std::string& message);

template <typename T, typename = void>
struct Streamable : std::false_type {};
template <typename T>
struct Streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

template <typename T>
std::string Show(const T& value) {
  if constexpr (std::is_same_v<T, core::Status>) {
    return core::StatusCode(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(value));
  } else if constexpr (std::is_same_v<T, uint8_t>) {
    return std::to_string(static_cast<unsigned>(value));
  } else if constexpr (Streamable<T>::value) {
    std::ostringstream out;
    out << value;
    return out.str();
  } else {
    return "<unprintable>";
  }
}

template <typename A, typename B>
bool CheckEq(const A& a, const B& b, const char* a_text, const char* b_text, const char* file,
             int line) {
  if (a == b) return true;
  RecordFailure(file, line,
                std::string(a_text) + " == " + b_text + "\n    left:  " + Show(a) +
                    "\n    right: " + Show(b));
  return false;
}

// Bytes from hex ("" gives none); REQUIREs valid hex.
std::vector<uint8_t> FromHex(const std::string& hex);
std::string ToHex(const uint8_t* data, size_t len);
inline std::string ToHex(const std::vector<uint8_t>& bytes) {
  return ToHex(bytes.data(), bytes.size());
}
// Whole file as a string; REQUIREs that it can be read.
std::string ReadFile(const std::string& path);

}  // namespace hsmkms::test

#define HSMKMS_TEST(name)                                                         \
  static void hsmkms_test_##name();                                               \
  static const ::hsmkms::test::Registrar hsmkms_registrar_##name(#name, &hsmkms_test_##name); \
  static void hsmkms_test_##name()

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) ::hsmkms::test::RecordFailure(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define REQUIRE(cond)                                                                      \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      ::hsmkms::test::RecordFailure(__FILE__, __LINE__, "REQUIRE(" #cond ")");              \
      throw ::hsmkms::test::FatalFailure{};                                                \
    }                                                                                      \
  } while (0)

#define CHECK_EQ(a, b) ((void)::hsmkms::test::CheckEq((a), (b), #a, #b, __FILE__, __LINE__))

#define SKIP(reason) throw ::hsmkms::test::Skipped{reason}

#define REQUIRE_EQ(a, b)                                                           \
  do {                                                                             \
    if (!::hsmkms::test::CheckEq((a), (b), #a, #b, __FILE__, __LINE__)) {          \
      throw ::hsmkms::test::FatalFailure{};                                        \
    }                                                                              \
  } while (0)
