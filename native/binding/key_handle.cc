#include "key_handle.h"

#include "tagged_object.h"

namespace hsmkms::binding {
namespace {

constexpr napi_type_tag kKeyHandleTag = {0x6873'6d6b'6d73'6165ULL, 0x6164'6b65'7968'6e64ULL};

struct KeyHolder {
  std::shared_ptr<core::AesGcmKey> key;
};

}  // namespace

Napi::Object WrapKey(Napi::Env env, std::shared_ptr<core::AesGcmKey> key) {
  // Garbage collection drops this reference; the bytes are wiped once no
  // operation in flight still holds the key.
  return WrapTagged(env, new KeyHolder{std::move(key)}, kKeyHandleTag);
}

const std::shared_ptr<core::AesGcmKey>& UnwrapKey(Napi::Env env, napi_value value) {
  const KeyHolder* holder = UnwrapTagged<KeyHolder>(env, value, kKeyHandleTag);
  // A C++ exception, not a pending JavaScript one: while a worker terminates
  // nothing can be thrown into JavaScript, and the caller must not go on.
  if (holder == nullptr) throw Napi::TypeError::New(env, "Expected an AeadKey handle");
  return holder->key;
}

}  // namespace hsmkms::binding
