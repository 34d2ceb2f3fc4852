// The small-message part of the raw binding: a whole one-frame v2 message
// sealed or opened in one synchronous call (lib/envelope/small-message.ts).
#pragma once

#include <napi.h>

namespace hsmkms::binding {

void ExportSmallMessageFunctions(Napi::Env env, Napi::Object exports);

}  // namespace hsmkms::binding
