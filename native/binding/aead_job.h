// One AES-256-GCM seal or open run on the worker pool and settled as a promise.
#pragma once

#include <napi.h>

#include <memory>

#include "../core/aes_gcm_key.h"
#include "../core/worker_pool.h"
#include "byte_view.h"
#include "completion.h"
#include "env_state.h"

namespace hsmkms::binding {

enum class AeadDirection { kSeal, kOpen };

class AeadJob final : public core::Task, public Completion {
 public:
  struct Args {
    AeadDirection direction;
    std::shared_ptr<core::AesGcmKey> key;
    ByteView input, aad, iv, output;
  };
  AeadJob(EnvState* state, Args args, napi_deferred deferred);

  // JS thread: references every array the worker will touch.
  void HoldArrays(napi_env env, napi_value input, napi_value aad, napi_value iv, napi_value output);

  void Run() noexcept override;
  void Finish() noexcept override;
  void Complete(napi_env env) noexcept override;

 private:
  EnvState* state_;
  Args args_;
  napi_deferred deferred_;
  napi_ref output_ref_ = nullptr;
  KeepAlive keep_alive_;
  core::Status status_ = core::Status::kInternal;
};

}  // namespace hsmkms::binding
