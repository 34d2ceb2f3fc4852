// Opening the embedded soft root of trust: reading (or creating) the root
// key file, or deriving the root key with scrypt, both block (file I/O, a
// deliberately slow KDF), so they run on a soft-root thread; the promise
// settles with a new root handle.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/pkcs11/hsm_result.h"
#include "../core/secure_memory.h"
#include "../core/soft/soft_root.h"
#include "../core/worker_pool.h"
#include "completion.h"
#include "env_state.h"

namespace hsmkms::binding {

class OpenSoftRootJob final : public core::Task, public Completion {
 public:
  struct Config {
    std::string key_file;               // non-empty: the key file ...
    core::SecureBytes passphrase;       // ... or else scrypt(passphrase, salt)
    std::vector<uint8_t> salt;
    size_t threads = 1;
    size_t key_cache_capacity = soft::SoftRoot::kDefaultKeyCacheCapacity;
  };

  OpenSoftRootJob(EnvState* state, Config config, napi_deferred deferred);

  void Run() noexcept override;
  void Finish() noexcept override;
  void Complete(napi_env env) noexcept override;

 private:
  EnvState* state_;
  Config config_;
  napi_deferred deferred_;
  pkcs11::HsmResult result_;
  std::shared_ptr<soft::SoftRoot> root_;
};

}  // namespace hsmkms::binding
