#include "wrapped_key_value.h"

#include <cmath>
#include <string>

#include "byte_view.h"

namespace hsmkms::binding {
namespace {

// A short string property or argument (names, ids), read into `buffer`.
std::string_view ReadName(Napi::Env env, napi_value value, char* buffer, size_t size,
                          const char* what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buffer, size, &len) != napi_ok || len + 1 >= size) {
    throw Napi::TypeError::New(env, std::string("Expected ") + what + " to be a short string");
  }
  return std::string_view(buffer, len);
}

napi_value Property(Napi::Env env, napi_value object, const char* name) {
  napi_value value = nullptr;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) {
    throw env.GetAndClearPendingException();
  }
  return value;
}

template <typename T>
T ReadEnum(Napi::Env env, napi_value value, bool (*parse)(std::string_view, T*), const char* what) {
  char buffer[48];
  T out{};
  if (!parse(ReadName(env, value, buffer, sizeof(buffer), what), &out)) {
    throw Napi::TypeError::New(env, std::string("Unknown ") + what);
  }
  return out;
}

}  // namespace

uint32_t ReadUint32(Napi::Env env, napi_value value, const char* what) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok || !(number >= 0) ||
      number > 4294967295.0 || std::floor(number) != number) {
    throw Napi::TypeError::New(env, std::string("Expected ") + what + " to be a uint32");
  }
  return static_cast<uint32_t>(number);
}

pkcs11::KeySpec ReadKeySpec(Napi::Env env, napi_value value) {
  return ReadEnum(env, value, pkcs11::ParseKeySpec, "keySpec");
}
pkcs11::KeyUsage ReadKeyUsage(Napi::Env env, napi_value value) {
  return ReadEnum(env, value, pkcs11::ParseKeyUsage, "keyUsage");
}
pkcs11::OaepHash ReadOaepHash(Napi::Env env, napi_value value) {
  return ReadEnum(env, value, pkcs11::ParseOaepHash, "encryption algorithm");
}
pkcs11::SigningAlgorithm ReadSigningAlgorithm(Napi::Env env, napi_value value) {
  return ReadEnum(env, value, pkcs11::ParseSigningAlgorithm, "signing algorithm");
}
pkcs11::MessageType ReadMessageType(Napi::Env env, napi_value value) {
  return ReadEnum(env, value, pkcs11::ParseMessageType, "messageType");
}
pkcs11::MacAlgorithm ReadMacAlgorithm(Napi::Env env, napi_value value) {
  return ReadEnum(env, value, pkcs11::ParseMacAlgorithm, "MAC algorithm");
}

void ReadWrappedKey(Napi::Env env, napi_value value, pkcs11::WrappedKey* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) {
    throw Napi::TypeError::New(env, "Expected a wrapped key object");
  }
  char id[256];
  out->id.assign(ReadName(env, Property(env, value, "id"), id, sizeof(id), "key.id"));
  out->version = ReadUint32(env, Property(env, value, "version"), "key.version");
  out->domain_version = ReadUint32(env, Property(env, value, "domainVersion"), "key.domainVersion");
  out->spec = ReadKeySpec(env, Property(env, value, "keySpec"));
  out->usage = ReadKeyUsage(env, Property(env, value, "keyUsage"));
  out->algorithm = ReadEnum(env, Property(env, value, "algorithm"), pkcs11::ParseWrapAlgorithm,
                            "key.algorithm");
  const ByteView blob = GetBytes(env, Property(env, value, "blob"), false);
  if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
  out->blob.assign(blob.data, blob.data + blob.length);
}

Napi::Object MakeWrappedKey(Napi::Env env, const pkcs11::WrappedKey& key) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("id", Napi::String::New(env, key.id));
  object.Set("version", Napi::Number::New(env, key.version));
  object.Set("domainVersion", Napi::Number::New(env, key.domain_version));
  object.Set("keySpec", Napi::String::New(env, pkcs11::KeySpecName(key.spec)));
  object.Set("keyUsage", Napi::String::New(env, pkcs11::KeyUsageName(key.usage)));
  object.Set("algorithm", Napi::String::New(env, pkcs11::WrapAlgorithmName(key.algorithm)));
  object.Set("blob", Napi::Buffer<uint8_t>::Copy(env, key.blob.data(), key.blob.size()));
  return object;
}

}  // namespace hsmkms::binding
