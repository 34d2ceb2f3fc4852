// The result of every PKCS#11-layer call: a core status plus, when a PKCS#11
// function is behind it, that function's name and return value, so that the
// binding can build a KmsError that keeps `ckr`, `rv` and `fn`.
#pragma once

#include "../status.h"
#include "cryptoki.h"

namespace hsmkms::pkcs11 {

struct [[nodiscard]] HsmResult {
  core::Status status = core::Status::kOk;
  CK_RV rv = CKR_OK;           // CKR_OK when no PKCS#11 call failed
  const char* fn = nullptr;    // the PKCS#11 function ("C_Decrypt") or step ("dlopen")
  const char* detail = nullptr;  // a static, secret-free explanation, or null

  [[nodiscard]] bool ok() const noexcept { return status == core::Status::kOk; }
  // The CKR_ name of `rv`, or null when no PKCS#11 call failed.
  [[nodiscard]] const char* ckr() const noexcept;

  [[nodiscard]] static HsmResult Ok() noexcept { return {}; }
  // A failed PKCS#11 call, its status chosen by StatusFor(rv, fn).
  [[nodiscard]] static HsmResult FromRv(CK_RV rv, const char* fn) noexcept;
  // A failure that is not a PKCS#11 return value (bad input, missing token...).
  [[nodiscard]] static HsmResult Error(core::Status status, const char* fn,
                                       const char* detail) noexcept;
};

}  // namespace hsmkms::pkcs11
