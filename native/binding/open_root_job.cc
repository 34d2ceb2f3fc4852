#include "open_root_job.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>

#include "root_handle.h"

namespace hsmkms::binding {
namespace {

// At exit, before the modules' own static destructors (registered when they
// were first initialised, so run after this): no HSM thread may still be in
// a module then.
void StopHsmThreadsAtExit() { pkcs11::Hsm::Threads().Shutdown(); }

}  // namespace

OpenRootJob::OpenRootJob(EnvState* state, pkcs11::HsmConfig config, core::SecureBytes pin,
                         napi_deferred deferred)
    : state_(state), config_(std::move(config)), pin_(std::move(pin)), deferred_(deferred) {}

void OpenRootJob::Run() noexcept {
  try {
    result_ = pkcs11::Hsm::Open(config_, std::move(pin_), &hsm_);
  } catch (const std::bad_alloc&) {
    result_ = pkcs11::HsmResult::Error(core::Status::kInternal, nullptr, "out of memory");
  }
}

void OpenRootJob::Finish() noexcept {
  pin_.Release();
  if (cancelled()) {
    result_ = pkcs11::HsmResult::Error(core::Status::kAborted, nullptr, "The operation was aborted");
  }
  state_->PostCompletion(this);
}

void OpenRootJob::Complete(napi_env env) noexcept {
  if (env != nullptr) {
    if (result_.ok()) {
      static std::once_flag once;
      std::call_once(once, [] { std::atexit(StopHsmThreadsAtExit); });
      try {
        pkcs11::Hsm* hsm = hsm_.get();
        Napi::Object handle = RootHandle::Wrap(Napi::Env(env), std::move(hsm_), hsm);
        napi_resolve_deferred(env, deferred_, handle);
      } catch (const Napi::Error& error) {
        napi_reject_deferred(env, deferred_, error.Value());
      }
    } else {
      napi_reject_deferred(env, deferred_, state_->MakeError(result_));
    }
  }
  // Teardown (or a failed wrap): the Hsm goes here, on the JS thread.
  hsm_.reset();
  delete this;
}

}  // namespace hsmkms::binding
