// The signature part of the raw binding (lib/envelope/signature.ts): the
// ECDSA footer of signed suites (core/message_signature). The digest is fed
// on the JS thread (signatureUpdateSync) or, for streams, on the worker pool
// in submission order (signatureUpdate), so the JS thread never hashes a
// stream's frames.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

void ExportSignatureFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
