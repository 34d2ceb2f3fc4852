// Opening a PKCS#11 root of trust: loading the module, finding the token
// and logging in all block, so they run on an HSM thread; the promise
// settles with a new root handle.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/pkcs11/hsm.h"
#include "../core/secure_memory.h"
#include "../core/worker_pool.h"
#include "completion.h"
#include "env_state.h"

namespace hsmkms::binding {

class OpenRootJob final : public core::Task, public Completion {
 public:
  OpenRootJob(EnvState* state, pkcs11::HsmConfig config, core::SecureBytes pin,
              napi_deferred deferred);

  void Run() noexcept override;
  void Finish() noexcept override;
  void Complete(napi_env env) noexcept override;

 private:
  EnvState* state_;
  const pkcs11::HsmConfig config_;
  core::SecureBytes pin_;  // handed to the Hsm (its keeper keeps it, locked)
  napi_deferred deferred_;
  pkcs11::HsmResult result_;
  std::shared_ptr<pkcs11::Hsm> hsm_;
};

}  // namespace hsmkms::binding
