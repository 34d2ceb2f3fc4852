// Shared set-up of the PKCS#11 tests: a fresh SoftHSM2 token per test process
// (scripts/make-softhsm-token.sh in a temporary directory, removed at exit),
// opening an Hsm on it (directly or through the fault-injection shim), and a
// way to run work on the HSM threads as the binding will.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pkcs11/hsm.h"
#include "secure_memory.h"

namespace hsmkms::test {

constexpr const char* kTokenLabel = "hsmkms-test";
constexpr const char* kUserPin = "1234";
constexpr const char* kSoPin = "12345678";

// Makes the token on first use and points SOFTHSM2_CONF at it.
void EnsureToken();
// The real SoftHSM2 module (HSMKMS_SOFTHSM_MODULE overrides).
std::string SoftHsmPath();
// test/native/fault_pkcs11_shim.c, built by CMake.
std::string ShimPath();

core::SecureBytes Pin(const std::string& pin);
pkcs11::HsmConfig Config(const std::string& module_path = SoftHsmPath());
// Opens an Hsm on the test token (REQUIRE-s success).
std::shared_ptr<pkcs11::Hsm> OpenHsm(const pkcs11::HsmConfig& config = Config());

// Commands for the shim (see its header comment); REQUIRE-s that it took them.
void Shim(const std::string& commands);
unsigned long ShimCalls(const std::string& fn);
// Sessions open in the real module (through the shim; a restart zeroes it).
unsigned long ShimSessions();

// Runs fn on one of the HSM threads and waits for it.
void OnHsmThread(const std::function<void()>& fn);

// Creates domain key `version` and a fresh AES CMK wrapped under it.
pkcs11::WrappedKey NewAesKey(pkcs11::Hsm& hsm, uint32_t domain_version, const std::string& id);

std::vector<uint8_t> Bytes(const std::string& text);

// "KMSInternalException CKR_ARGUMENTS_BAD C_EncryptInit (detail)" for failure messages.
std::string Describe(const pkcs11::HsmResult& result);

}  // namespace hsmkms::test

// REQUIRE-s that an HsmResult is ok, showing its status, CKR and function if not.
#define REQUIRE_OK(expr)                                                                   \
  do {                                                                                     \
    const ::hsmkms::pkcs11::HsmResult hsmkms_result_ = (expr);                             \
    if (!hsmkms_result_.ok()) {                                                            \
      ::hsmkms::test::RecordFailure(__FILE__, __LINE__,                                    \
                                    "REQUIRE_OK(" #expr "): " +                            \
                                        ::hsmkms::test::Describe(hsmkms_result_));         \
      throw ::hsmkms::test::FatalFailure{};                                                \
    }                                                                                      \
  } while (0)

namespace hsmkms::test {

}  // namespace hsmkms::test
