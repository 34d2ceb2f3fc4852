// One PKCS#11 session, closed when this object goes away.
#pragma once

#include <cstdint>

#include "cryptoki.h"
#include "hsm_result.h"

namespace hsmkms::pkcs11 {

class Session {
 public:
  Session() = default;
  ~Session() { Close(); }
  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // A read-write session on `slot`, tagged with the connection generation it
  // belongs to (sessions of an older generation are never reused).
  [[nodiscard]] static HsmResult Open(CK_FUNCTION_LIST* p11, CK_SLOT_ID slot,
                                      uint64_t generation, Session* out);

  [[nodiscard]] bool is_open() const noexcept { return p11_ != nullptr; }
  [[nodiscard]] CK_SESSION_HANDLE handle() const noexcept { return handle_; }
  [[nodiscard]] uint64_t generation() const noexcept { return generation_; }
  // Closes the session (errors ignored: a dead session is gone either way).
  void Close() noexcept { static_cast<void>(CloseChecked()); }
  // Closes the session; gives what C_CloseSession answered (CKR_OK when
  // there was nothing to close). Either way this object is closed after.
  [[nodiscard]] CK_RV CloseChecked() noexcept;

 private:
  CK_FUNCTION_LIST* p11_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  uint64_t generation_ = 0;
};

}  // namespace hsmkms::pkcs11
