// Module entry: refuses to load without OpenSSL 3 in the host process, then
// sets up per-environment state and exports the raw binding (lib/native.ts).
#include <dlfcn.h>
#include <napi.h>
#include <openssl/crypto.h>

#include <cstdlib>
#include <mutex>

#include "../core/status.h"
#include "../core/worker_pool.h"
#include "aead_functions.h"
#include "env_state.h"
#include "key_transform_functions.h"
#include "root_functions.h"
#include "signature_functions.h"
#include "signature_lane.h"
#include "small_message_functions.h"

namespace hsmkms::binding {
namespace {

// Our OpenSSL calls bind lazily to the host's symbols (we link none of our
// own), so probe them before the first call: Electron's BoringSSL, for
// example, has no EVP_CIPHER_fetch.
bool HostHasOpenSsl3() {
  using VersionFn = unsigned long (*)();
  void* fetch = dlsym(RTLD_DEFAULT, "EVP_CIPHER_fetch");
  auto version = reinterpret_cast<VersionFn>(dlsym(RTLD_DEFAULT, "OpenSSL_version_num"));
  return fetch != nullptr && version != nullptr && version() >= 0x30000000UL;
}

void StopPoolsAtExit() {
  core::WorkerPool::Shared().Shutdown();
  DigestPool().Shutdown();
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  EnvState::Get(info.Env())->SetErrorFactory(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!HostHasOpenSsl3() || std::getenv("HSMKMS_TEST_PRETEND_NO_OPENSSL3") != nullptr) {
    Napi::Error error = Napi::Error::New(env, StatusMessage(core::Status::kUnsupportedRuntime));
    error.Set("code", core::StatusCode(core::Status::kUnsupportedRuntime));
    throw error;
  }
  static std::once_flag once;
  // Runs before OpenSSL's own atexit cleanup (registered earlier, run later):
  // workers must be idle before OpenSSL tears its providers down.
  std::call_once(once, [] { std::atexit(StopPoolsAtExit); });
  EnvState::Create(env);
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  ExportAeadFunctions(env, exports);
  ExportKeyTransformFunctions(env, exports);
  ExportRootFunctions(env, exports);
  ExportSmallMessageFunctions(env, exports);
  ExportSignatureFunctions(env, exports);
  return exports;
}

}  // namespace hsmkms::binding

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return hsmkms::binding::Init(env, exports);
}

NODE_API_MODULE(hsmkms, InitModule)
