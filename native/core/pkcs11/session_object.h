// An object in the keeper session (an unwrapped key), destroyed in the HSM
// when the last holder lets go: a cache eviction never pulls a key from under
// an operation that is still using it.
#pragma once

#include <cstdint>
#include <memory>

#include "cryptoki.h"
#include "keeper.h"

namespace hsmkms::pkcs11 {

class SessionObject {
 public:
  // `session`: the keeper session number it was made in; `is_private`: its
  // CKA_PRIVATE (a lost login destroys private objects only).
  SessionObject(std::shared_ptr<Keeper> keeper, CK_OBJECT_HANDLE handle, uint64_t generation,
                uint64_t session, bool is_private)
      : keeper_(std::move(keeper)),
        handle_(handle),
        generation_(generation),
        session_(session),
        is_private_(is_private) {}
  ~SessionObject() { keeper_->DestroyObject(handle_, generation_, session_, is_private_); }
  SessionObject(const SessionObject&) = delete;
  SessionObject& operator=(const SessionObject&) = delete;

  [[nodiscard]] CK_OBJECT_HANDLE handle() const noexcept { return handle_; }
  [[nodiscard]] uint64_t generation() const noexcept { return generation_; }

 private:
  std::shared_ptr<Keeper> keeper_;
  CK_OBJECT_HANDLE handle_;
  uint64_t generation_;
  uint64_t session_;
  bool is_private_;
};

}  // namespace hsmkms::pkcs11
