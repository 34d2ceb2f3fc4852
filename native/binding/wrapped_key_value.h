// WrappedKey as it crosses to and from JavaScript: a plain object
// { id, version, domainVersion, keySpec, keyUsage, algorithm, blob } with
// the AWS names of the enums (native/core/pkcs11/algorithms.h).
#pragma once

#include <napi.h>

#include "../core/pkcs11/wrapped_key.h"

namespace hsmkms::binding {

// Reads a wrapped key (copies the blob); throws a TypeError naming the
// first field that is missing or wrong.
void ReadWrappedKey(Napi::Env env, napi_value value, pkcs11::WrappedKey* out);
[[nodiscard]] Napi::Object MakeWrappedKey(Napi::Env env, const pkcs11::WrappedKey& key);

// The enums by their AWS names; each throws a TypeError for another string.
[[nodiscard]] pkcs11::KeySpec ReadKeySpec(Napi::Env env, napi_value value);
[[nodiscard]] pkcs11::KeyUsage ReadKeyUsage(Napi::Env env, napi_value value);
[[nodiscard]] pkcs11::OaepHash ReadOaepHash(Napi::Env env, napi_value value);
[[nodiscard]] pkcs11::SigningAlgorithm ReadSigningAlgorithm(Napi::Env env, napi_value value);
[[nodiscard]] pkcs11::MessageType ReadMessageType(Napi::Env env, napi_value value);
[[nodiscard]] pkcs11::MacAlgorithm ReadMacAlgorithm(Napi::Env env, napi_value value);
// A uint32 (version numbers); throws a TypeError otherwise.
[[nodiscard]] uint32_t ReadUint32(Napi::Env env, napi_value value, const char* what);

}  // namespace hsmkms::binding
