#include "wrapped_key_ref.h"

#include "tagged_object.h"
#include "wrapped_key_value.h"

namespace hsmkms::binding {
namespace {

constexpr napi_type_tag kWrappedKeyRefTag = {0x6873'6d6b'6d73'776bULL, 0x6579'7265'6665'7265ULL};

}  // namespace

Napi::Object WrappedKeyRef::New(Napi::Env env, napi_value wrapped_key) {
  auto key = std::make_shared<pkcs11::WrappedKey>();
  ReadWrappedKey(env, wrapped_key, key.get());
  return WrapTagged(env, new WrappedKeyRef(std::move(key)), kWrappedKeyRefTag);
}

const std::shared_ptr<const pkcs11::WrappedKey>& WrappedKeyRef::Unwrap(Napi::Env env,
                                                                      napi_value value) {
  auto* ref = UnwrapTagged<WrappedKeyRef>(env, value, kWrappedKeyRefTag);
  if (ref == nullptr) {
    throw Napi::TypeError::New(env, "Expected a prepared wrapped key (root.prepareKey)");
  }
  return ref->key_;
}

}  // namespace hsmkms::binding
