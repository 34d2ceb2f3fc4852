// The signature part of the raw binding (lib/envelope/signature.ts): the
// ECDSA footer of signed suites (core/message_signature). The digest is fed
// on the JS thread (signatureUpdateSync) or, for streams, on the worker pool
// in submission order (signatureUpdate), so the JS thread never hashes a
// stream's frames.
#pragma once

#include <napi.h>

#include "../core/worker_pool.h"

namespace hsmkms::binding {

// The threads that hash signed streams, apart from the AES pool: the hash is
// the slowest step of a signed stream and runs in order, so it must never
// wait in a queue behind AES runs. Created on first use.
core::WorkerPool& DigestPool();

void ExportSignatureFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
