// The root-of-trust part of the raw binding: openPkcs11Root, closeRoot and
// `root.*`, an async function per core::RootOfTrust operation plus the
// host-side public-key operations.
#pragma once

#include <napi.h>

namespace hsmkms::binding {

void ExportRootFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
