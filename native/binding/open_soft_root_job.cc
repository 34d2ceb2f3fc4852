#include "open_soft_root_job.h"

#include <new>
#include <utility>

#include "../core/soft/root_key_source.h"
#include "root_handle.h"

namespace hsmkms::binding {
namespace {

const char* KeyFileMessage(core::Status status) {
  switch (status) {
    case core::Status::kInvalidState:
      return "The root key file is unusable: wrong size, a symlink, or readable by group or others";
    case core::Status::kNotFound:
      return "The directory of the root key file does not exist";
    default:
      return "The root key file could not be read or created";
  }
}

}  // namespace

OpenSoftRootJob::OpenSoftRootJob(EnvState* state, Config config, napi_deferred deferred)
    : state_(state), config_(std::move(config)), deferred_(deferred) {}

void OpenSoftRootJob::Run() noexcept {
  try {
    core::SecureBytes root_key;
    if (!config_.key_file.empty()) {
      bool created = false;
      const core::Status status =
          soft::LoadOrCreateRootKeyFile(config_.key_file, &created, &root_key);
      if (status != core::Status::kOk) {
        result_ = pkcs11::HsmResult::Error(status, nullptr, KeyFileMessage(status));
        return;
      }
    } else {
      const core::Status status =
          soft::DeriveRootKey(config_.passphrase.data(), config_.passphrase.size(),
                              config_.salt.data(), config_.salt.size(), &root_key);
      config_.passphrase.Release();
      if (status != core::Status::kOk) {
        result_ = pkcs11::HsmResult::Error(
            status, nullptr,
            status == core::Status::kValidation
                ? "The passphrase must not be empty and the salt must be at least 16 bytes"
                : "The root key could not be derived");
        return;
      }
    }
    result_ = soft::SoftRoot::Open(std::move(root_key), config_.threads, &root_,
                                   config_.key_cache_capacity);
  } catch (const std::bad_alloc&) {
    result_ = pkcs11::HsmResult::Error(core::Status::kInternal, nullptr, "out of memory");
  }
}

void OpenSoftRootJob::Finish() noexcept {
  config_.passphrase.Release();
  if (cancelled()) {
    result_ = pkcs11::HsmResult::Error(core::Status::kAborted, nullptr, "The operation was aborted");
  }
  state_->PostCompletion(this);
}

void OpenSoftRootJob::Complete(napi_env env) noexcept {
  if (env != nullptr) {
    if (result_.ok()) {
      try {
        Napi::Object handle = RootHandle::Wrap(Napi::Env(env), std::move(root_), nullptr);
        napi_resolve_deferred(env, deferred_, handle);
      } catch (const Napi::Error& error) {
        napi_reject_deferred(env, deferred_, error.Value());
      }
    } else {
      napi_reject_deferred(env, deferred_, state_->MakeError(result_));
    }
  }
  root_.reset();
  delete this;
}

}  // namespace hsmkms::binding
