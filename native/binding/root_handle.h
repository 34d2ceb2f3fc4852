// The opaque JS object that stands for an open root of trust (a PKCS#11
// token now, the embedded soft root later: anything implementing
// core::RootOfTrust). It is type-tagged so that no other object can be
// mistaken for one, and owns JS-thread state: the operations in flight and
// closing, which waits for them and then lets the root go on its own
// threads (closing sessions and finalizing a module block).
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "../core/pkcs11/hsm.h"
#include "../core/root_of_trust.h"
#include "env_resource.h"
#include "env_state.h"

namespace hsmkms::binding {

class RootHandle final : public EnvResource {
 public:
  // A new handle object owning `root`. `hsm` is the same object when the
  // root is a PKCS#11 token (its diagnostics), null otherwise.
  [[nodiscard]] static Napi::Object Wrap(Napi::Env env, std::shared_ptr<core::RootOfTrust> root,
                                         pkcs11::Hsm* hsm);
  // The handle behind a JS value; throws a TypeError for anything else.
  [[nodiscard]] static RootHandle* Unwrap(Napi::Env env, napi_value value);

  ~RootHandle() override;
  RootHandle(const RootHandle&) = delete;
  RootHandle& operator=(const RootHandle&) = delete;

  // JS thread. Starts an operation: a reference to the root for it, or null
  // once close() was called (the caller rejects with KeyUnavailable).
  [[nodiscard]] std::shared_ptr<core::RootOfTrust> Acquire();
  // JS thread: the operation Acquire() started has settled (env null
  // during teardown).
  void Release(napi_env env) noexcept;
  // The token behind the root, or null (valid while an Acquire()d
  // reference is held).
  [[nodiscard]] pkcs11::Hsm* hsm() const noexcept { return hsm_; }
  [[nodiscard]] const char* kind() const noexcept { return kind_; }

  // JS thread: a promise that settles once every operation in flight has
  // settled and the root is released. `self` is this handle's object.
  [[nodiscard]] napi_value Close(napi_env env, napi_value self);

  void ReleaseAtTeardown() noexcept override;

 private:
  class CloseTask;
  class ReleaseTask;

  RootHandle(EnvState* state, std::shared_ptr<core::RootOfTrust> root, pkcs11::Hsm* hsm);
  void StartClose(napi_env env);
  void Closed(napi_env env) noexcept;

  EnvState* state_;  // null after teardown
  std::shared_ptr<core::RootOfTrust> root_;  // null once closing has started
  pkcs11::Hsm* hsm_;
  const char* kind_;
  size_t in_flight_ = 0;
  bool closing_ = false;       // close() was called: no new operations
  bool close_started_ = false;  // the root has been handed to a CloseTask
  bool closed_ = false;        // released
  std::vector<napi_deferred> close_waiters_;
  napi_ref close_ref_ = nullptr;  // keeps the handle object alive while closing
};

}  // namespace hsmkms::binding
