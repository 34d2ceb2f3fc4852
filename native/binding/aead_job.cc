#include "aead_job.h"

#include <openssl/crypto.h>

namespace hsmkms::binding {

AeadJob::AeadJob(EnvState* state, Args args, napi_deferred deferred)
    : state_(state), args_(std::move(args)), deferred_(deferred) {}

void AeadJob::HoldArrays(napi_env env, napi_value input, napi_value aad, napi_value iv,
                         napi_value output) {
  keep_alive_.Hold(env, input);
  keep_alive_.Hold(env, aad);
  keep_alive_.Hold(env, iv);
  napi_create_reference(env, output, 1, &output_ref_);
}

void AeadJob::Run() noexcept {
  const ByteView& in = args_.input;
  if (args_.direction == AeadDirection::kSeal) {
    status_ = args_.key->Seal(args_.iv.present ? args_.iv.data : nullptr, in.data, in.length,
                              args_.aad.data, args_.aad.length, args_.output.data);
  } else {
    status_ = args_.key->Open(in.data, in.length, args_.aad.data, args_.aad.length,
                              args_.output.data);
  }
}

void AeadJob::Finish() noexcept {
  if (cancelled()) status_ = core::Status::kAborted;
  // Free the key reference on the worker: if it was the last one, the key is
  // wiped here rather than on the JS thread.
  args_.key.reset();
  state_->PostCompletion(this);
}

void AeadJob::Complete(napi_env env) noexcept {
  if (env != nullptr) {
    napi_value output = nullptr;
    napi_get_reference_value(env, output_ref_, &output);
    if (status_ == core::Status::kOk) {
      napi_resolve_deferred(env, deferred_, output);
    } else {
      napi_value error = state_->MakeError(status_, StatusMessage(status_));
      napi_reject_deferred(env, deferred_, error);
    }
    napi_delete_reference(env, output_ref_);
    keep_alive_.Release(env);
  }
  delete this;
}

}  // namespace hsmkms::binding
