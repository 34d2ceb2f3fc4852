// The signature part of the raw binding (lib/envelope/signature.ts): the
// ECDSA footer of signed suites (core/message_signature). Key generation,
// hashing, signing and checking run on the digest threads (signature_lane),
// in submission order; only a header's few bytes are hashed on the JS thread.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

void ExportSignatureFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
