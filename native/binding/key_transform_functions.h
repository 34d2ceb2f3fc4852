// The key-transform part of the raw binding: HKDF from a key handle to a new
// handle or to (non-secret) bytes, and sealing a key handle under another /
// opening it back into a new handle. All synchronous: each is one HKDF or
// one AES-GCM of 32 bytes, cheaper than a hop to the pool.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

void ExportKeyTransformFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
