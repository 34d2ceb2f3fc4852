// The AEAD part of the raw binding: keys, sync, async and batch seal/open.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

void ExportAeadFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
