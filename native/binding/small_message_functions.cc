#include "small_message_functions.h"

#include "../core/message_keys.h"
#include "../core/small_message.h"
#include "byte_view.h"
#include "call_args.h"
#include "env_state.h"
#include "key_handle.h"

namespace hsmkms::binding {
namespace {

using core::AesGcmKey;
using core::SmallMessageCheck;
using core::Status;

// A field of a fixed length (a message id, a commitment).
ByteView ArgField(const Napi::CallbackInfo& info, size_t i, size_t length) {
  ByteView view = ArgBytes(info, i);
  Require(info.Env(), view.length == length, "wrong field length");
  return view;
}

const AesGcmKey& ArgKey(const Napi::CallbackInfo& info) {
  return *UnwrapKey(info.Env(), info[0]);
}

// Only the committing suites have these message keys.
uint16_t ArgSuite(const Napi::CallbackInfo& info, size_t i) {
  const uint32_t id = info[i].IsNumber() ? info[i].As<Napi::Number>().Uint32Value() : 0;
  if (id != 0x0478 && id != 0x0578) {
    throw Napi::RangeError::New(info.Env(), "suite must be 0x0478 or 0x0578");
  }
  return static_cast<uint16_t>(id);
}

void Check(Napi::Env env, Status status) {
  if (status == Status::kOk) return;
  throw Napi::Error(env, EnvState::Get(env)->MakeError(status, StatusMessage(status)));
}

// sealSmallMessage(key, suiteId, messageId, message, headerBodyLength, plaintext)
Napi::Value SealSmallMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const AesGcmKey& key = ArgKey(info);
  const uint16_t suite = ArgSuite(info, 1);
  ByteView id = ArgField(info, 2, core::kMessageIdSize), message = ArgBytes(info, 3);
  const double body = info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : -1;
  ByteView plaintext = ArgBytes(info, 5);
  Require(env, body >= core::kCommitKeySize && body <= static_cast<double>(message.length),
          "header body length out of range");
  const size_t body_len = static_cast<size_t>(body);
  Require(env, plaintext.length <= UINT32_MAX &&
                   message.length == body_len + AesGcmKey::kTagSize +
                                         core::kFinalFrameOverhead + plaintext.length,
          "message size mismatch");
  Check(env, core::SealSmallMessage(key, suite, id.data, message.data, message.length, body_len,
                                    plaintext.data, plaintext.length));
  return env.Undefined();
}

// openSmallMessage(key, suiteId, messageId, commitKey, headerAad, headerTag, frame, out)
// -> 0 opened, or the failed check: 1 commitment, 2 header tag, 3 frame.
Napi::Value OpenSmallMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const AesGcmKey& key = ArgKey(info);
  const uint16_t suite = ArgSuite(info, 1);
  ByteView id = ArgField(info, 2, core::kMessageIdSize),
           commit = ArgField(info, 3, core::kCommitKeySize), aad = ArgBytes(info, 4),
           tag = ArgField(info, 5, AesGcmKey::kTagSize), frame = ArgBytes(info, 6),
           out = ArgBytes(info, 7);
  Require(env, frame.length == out.length + core::kFinalFrameOverhead, "output size mismatch");
  SmallMessageCheck check = SmallMessageCheck::kPassed;
  const Status status = core::OpenSmallMessage(key, suite, id.data, commit.data, aad.data,
                                               aad.length, tag.data, frame.data, frame.length,
                                               out.data, out.length, &check);
  if (status != Status::kOk && check == SmallMessageCheck::kPassed) Check(env, status);
  return Napi::Number::New(env, static_cast<double>(check));
}

}  // namespace

void ExportSmallMessageFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("sealSmallMessage", Napi::Function::New(env, SealSmallMessage, "sealSmallMessage"));
  exports.Set("openSmallMessage", Napi::Function::New(env, OpenSmallMessage, "openSmallMessage"));
}

}  // namespace hsmkms::binding
