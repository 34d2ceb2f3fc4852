#include "aead_functions.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "../core/secure_memory.h"
#include "aead_batch.h"
#include "aead_job.h"
#include "call_args.h"
#include "key_handle.h"

namespace hsmkms::binding {
namespace {

using core::AesGcmKey;
using core::Status;

void ThrowStatus(Napi::Env env, Status status) {
  Napi::Value error = EnvState::Get(env)->MakeError(status, StatusMessage(status));
  throw Napi::Error(env, error);
}

const std::shared_ptr<AesGcmKey>& Key(const Napi::CallbackInfo& info) {
  return UnwrapKey(info.Env(), info[0]);
}

Napi::Value ImportKey(const Napi::CallbackInfo& info) {
  ByteView bytes = ArgBytes(info, 0);
  std::shared_ptr<AesGcmKey> key;
  const Status status = AesGcmKey::Import(bytes.data, bytes.length, &key);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return WrapKey(info.Env(), std::move(key));
}

Napi::Value GenerateKey(const Napi::CallbackInfo& info) {
  std::shared_ptr<AesGcmKey> key;
  const Status status = AesGcmKey::Generate(&key);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return WrapKey(info.Env(), std::move(key));
}

Napi::Value DestroyKey(const Napi::CallbackInfo& info) {
  Key(info)->Destroy();
  return info.Env().Undefined();
}

Napi::Value IsKeyDestroyed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Key(info)->destroyed());
}

// sealSync(key, plaintext, aad?, iv?, out)
Napi::Value SealSync(const Napi::CallbackInfo& info) {
  const auto& key = Key(info);
  ByteView in = ArgBytes(info, 1), aad = OptionalArgBytes(info, 2), iv = OptionalArgBytes(info, 3),
           out = ArgBytes(info, 4);
  Require(info.Env(), out.length == in.length + AesGcmKey::kOverhead, "output size mismatch");
  Require(info.Env(), !iv.present || iv.length == AesGcmKey::kIvSize, "IV must be 12 bytes");
  const Status status =
      key->Seal(iv.present ? iv.data : nullptr, in.data, in.length, aad.data, aad.length, out.data);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return info.Env().Undefined();
}

// openSync(key, sealed, aad?, out)
Napi::Value OpenSync(const Napi::CallbackInfo& info) {
  const auto& key = Key(info);
  ByteView in = ArgBytes(info, 1), aad = OptionalArgBytes(info, 2), out = ArgBytes(info, 3);
  if (in.length < AesGcmKey::kOverhead) ThrowStatus(info.Env(), Status::kInvalidCiphertext);
  Require(info.Env(), out.length == in.length - AesGcmKey::kOverhead, "output size mismatch");
  const Status status = key->Open(in.data, in.length, aad.data, aad.length, out.data);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return info.Env().Undefined();
}

uint64_t CancelId(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsNumber() ? static_cast<uint64_t>(info[i].As<Napi::Number>().Int64Value()) : 0;
}

// seal(key, plaintext, aad?, iv?, out, cancelId) / open(key, sealed, aad?, out, cancelId)
Napi::Value StartJob(const Napi::CallbackInfo& info, AeadDirection direction) {
  Napi::Env env = info.Env();
  const bool seal = direction == AeadDirection::kSeal;
  AeadJob::Args args{direction, Key(info), ArgBytes(info, 1), OptionalArgBytes(info, 2),
                     seal ? OptionalArgBytes(info, 3) : ByteView{}, ArgBytes(info, seal ? 4 : 3)};
  if (seal) {
    Require(env, args.output.length == args.input.length + AesGcmKey::kOverhead,
            "output size mismatch");
    Require(env, !args.iv.present || args.iv.length == AesGcmKey::kIvSize, "IV must be 12 bytes");
  } else {
    if (args.input.length < AesGcmKey::kOverhead) ThrowStatus(env, Status::kInvalidCiphertext);
    Require(env, args.output.length == args.input.length - AesGcmKey::kOverhead,
            "output size mismatch");
  }
  if (args.key->destroyed()) ThrowStatus(env, Status::kKeyUnavailable);
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  auto* job = new AeadJob(EnvState::Get(env), std::move(args), deferred);
  job->HoldArrays(env, info[1], info[2], seal ? info[3] : env.Undefined(), info[seal ? 4 : 3]);
  job->cancel_id = CancelId(info, seal ? 5 : 4);
  EnvState* state = EnvState::Get(env);
  state->BeginOperation();
  core::Task* task = job;
  state->Submit(&task, 1);
  return Napi::Value(env, promise);
}

Napi::Value Seal(const Napi::CallbackInfo& info) { return StartJob(info, AeadDirection::kSeal); }
Napi::Value Open(const Napi::CallbackInfo& info) { return StartJob(info, AeadDirection::kOpen); }

// The arrays a batch holds while it runs: data, offsets, aad, output (undefined when absent).
struct BatchArrays {
  napi_value data, offsets, aad, output;
};

// Cuts a checked batch into chunks and submits them; returns its promise.
// `segments` (an Array, or null): a gathered body whose elements the batch references.
Napi::Value SubmitBatch(const Napi::CallbackInfo& info, AeadBatch::Args args, size_t total,
                        BatchArrays arrays, uint64_t cancel_id, napi_value segments = nullptr) {
  Napi::Env env = info.Env();
  if (args.key->destroyed()) ThrowStatus(env, Status::kKeyUnavailable);
  // Enough chunks to use every thread, few enough that each is worth a hop.
  constexpr size_t kMinChunkBytes = 32 * 1024;
  const size_t threads = core::WorkerPool::Shared().size();
  size_t chunks = std::max<size_t>(1, total / kMinChunkBytes);
  chunks = std::min({chunks, threads * 2, std::max<size_t>(args.count, 1)});

  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  EnvState* state = EnvState::Get(env);
  auto* batch = new AeadBatch(state, std::move(args), deferred, chunks);
  batch->HoldArrays(env, arrays.data, arrays.offsets, arrays.aad, arrays.output);
  if (segments != nullptr) batch->HoldSegments(env, segments);
  state->BeginOperation();
  batch->Start(cancel_id);
  return Napi::Value(env, promise);
}

// sealBatch/openBatch(key, data, offsets: Uint32Array, aad?, out, cancelId)
Napi::Value StartBatch(const Napi::CallbackInfo& info, AeadDirection direction) {
  Napi::Env env = info.Env();
  if (!info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, "offsets must be a Uint32Array");
  }
  Napi::Uint32Array offsets = info[2].As<Napi::Uint32Array>();
  Require(env, offsets.ElementLength() >= 1, "offsets must have count + 1 entries");
  AeadBatch::Args args{direction, Key(info),   ArgBytes(info, 1),          OptionalArgBytes(info, 3),
                       ArgBytes(info, 4),        offsets.Data(),          offsets.ElementLength() - 1, {}};
  // Validate the table here: the raw binding must not trust its caller.
  const uint32_t* table = args.offsets;
  Require(env, table[0] == 0 && table[args.count] <= args.data.length, "offsets out of range");
  size_t overhead = args.count * AesGcmKey::kOverhead;
  for (size_t i = 0; i < args.count; ++i) {
    Require(env, table[i] <= table[i + 1], "offsets must not decrease");
    if (direction == AeadDirection::kOpen && table[i + 1] - table[i] < AesGcmKey::kOverhead) {
      ThrowStatus(env, Status::kInvalidCiphertext);
    }
  }
  const size_t total = table[args.count];
  Require(env,
          args.output.length == (direction == AeadDirection::kSeal ? total + overhead
                                                                    : total - overhead),
          "output size mismatch");
  return SubmitBatch(info, std::move(args), total, {info[1], info[2], info[3], info[4]},
                     CancelId(info, 5));
}

Napi::Value SealBatch(const Napi::CallbackInfo& info) {
  return StartBatch(info, AeadDirection::kSeal);
}
Napi::Value OpenBatch(const Napi::CallbackInfo& info) {
  return StartBatch(info, AeadDirection::kOpen);
}

// An integer argument in [min, max], else a RangeError.
uint64_t Integer(const Napi::CallbackInfo& info, size_t i, double min, double max,
                 const char* message) {
  Require(info.Env(), info[i].IsNumber(), message);
  const double v = info[i].As<Napi::Number>().DoubleValue();
  Require(info.Env(), v >= min && v <= max && v == static_cast<double>(static_cast<uint64_t>(v)),
          message);
  return static_cast<uint64_t>(v);
}

bool Overlaps(const ByteView& a, const ByteView& b) {
  return a.length > 0 && b.length > 0 && a.data < b.data + b.length && b.data < a.data + a.length;
}

// The segments of a gathered body (an Array of Uint8Array); returns their total length.
size_t Segments(const Napi::CallbackInfo& info, AeadBatch::Framing* f) {
  Napi::Array array = info[1].As<Napi::Array>();
  const uint32_t n = array.Length();
  Require(info.Env(), n <= 1u << 20, "too many segments");
  size_t total = 0;
  f->segments.reserve(n);
  f->segment_ends.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const ByteView view = BytesOf(info.Env(), array.Get(i));
    if (view.length == 0) continue;
    total += view.length;
    f->segments.push_back(view);
    f->segment_ends.push_back(total);
  }
  return total;
}

// sealFrames(key, plaintext, out, messageId, firstSeq, frameLength, cancelId)
// openFrames(key, body | segments[], out, messageId, firstSeq, frameLength, checkIv, cancelId)
// Every size is checked here: the raw binding must not trust its caller.
Napi::Value StartFrames(const Napi::CallbackInfo& info, AeadDirection direction) {
  Napi::Env env = info.Env();
  const bool seal = direction == AeadDirection::kSeal;
  const bool gather = !seal && info[1].IsArray();
  AeadBatch::Args args{direction, Key(info), gather ? ByteView{} : ArgBytes(info, 1), ByteView{},
                       ArgBytes(info, 2), nullptr, 0, {}};
  AeadBatch::Framing& f = args.framing;
  f.enabled = true;
  if (gather) args.data.length = Segments(info, &f);
  const ByteView message_id = ArgBytes(info, 3);
  Require(env, message_id.length == 16 || message_id.length == 32,
          "messageId must be 16 or 32 bytes");
  std::copy(message_id.data, message_id.data + message_id.length, f.message_id.begin());
  f.message_id_length = message_id.length;
  constexpr uint32_t kMaxSeq = 0xFFFFFFFE;
  f.first_seq = static_cast<uint32_t>(Integer(info, 4, 1, kMaxSeq, "firstSeq out of range"));
  f.frame_length = Integer(info, 5, 1, 0xFFFFFFFF, "frameLength out of range");
  f.check_iv = !seal && info[6].ToBoolean().Value();
  const size_t stride = f.frame_length + AeadBatch::Framing::kFrameOverhead;
  const size_t in_unit = seal ? f.frame_length : stride;
  const size_t out_unit = seal ? stride : f.frame_length;
  Require(env, args.data.length % in_unit == 0, "input is not a whole number of frames");
  args.count = args.data.length / in_unit;
  Require(env, args.output.length / out_unit == args.count && args.output.length % out_unit == 0,
          "output size mismatch");
  Require(env, args.count == 0 || f.first_seq + (args.count - 1) <= kMaxSeq,
          "too many frames for the sequence numbers");
  if (!gather) Require(env, !Overlaps(args.data, args.output), "output overlaps the input");
  for (const ByteView& segment : f.segments) {
    Require(env, !Overlaps(segment, args.output), "output overlaps the input");
  }
  const size_t total = args.data.length;
  const napi_value data = gather ? env.Undefined() : info[1];
  return SubmitBatch(info, std::move(args), total,
                     {data, env.Undefined(), env.Undefined(), info[2]},
                     CancelId(info, seal ? 6 : 7), gather ? napi_value{info[1]} : nullptr);
}

Napi::Value SealFrames(const Napi::CallbackInfo& info) {
  return StartFrames(info, AeadDirection::kSeal);
}
Napi::Value OpenFrames(const Napi::CallbackInfo& info) {
  return StartFrames(info, AeadDirection::kOpen);
}

// cancel(cancelId): work not yet started settles with AbortError.
Napi::Value Cancel(const Napi::CallbackInfo& info) {
  const uint64_t id = CancelId(info, 0);
  if (id == 0) return Napi::Number::New(info.Env(), 0);
  EnvState* owner = EnvState::Get(info.Env());
  owner->FlushSubmissions();  // a task still waiting for its microtask is cancelled too
  const size_t n = core::WorkerPool::Shared().CancelIf(
      [&](const core::Task& t) { return t.cancel_id == id && t.owner == owner; });
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  core::WorkerPool::Shared().Resize(info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(core::WorkerPool::Shared().size()));
}

Napi::Value SecureMemoryStats(const Napi::CallbackInfo& info) {
  const core::SecureMemoryStats stats = core::GetSecureMemoryStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("liveBlocks", static_cast<double>(stats.live_blocks));
  out.Set("lockedBytes", static_cast<double>(stats.locked_bytes));
  out.Set("lockFailed", stats.lock_failed);
  return out;
}

}  // namespace

void ExportAeadFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("importKey", Napi::Function::New(env, ImportKey, "importKey"));
  exports.Set("generateKey", Napi::Function::New(env, GenerateKey, "generateKey"));
  exports.Set("destroyKey", Napi::Function::New(env, DestroyKey, "destroyKey"));
  exports.Set("isKeyDestroyed", Napi::Function::New(env, IsKeyDestroyed, "isKeyDestroyed"));
  exports.Set("sealSync", Napi::Function::New(env, SealSync, "sealSync"));
  exports.Set("openSync", Napi::Function::New(env, OpenSync, "openSync"));
  exports.Set("seal", Napi::Function::New(env, Seal, "seal"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("sealBatch", Napi::Function::New(env, SealBatch, "sealBatch"));
  exports.Set("openBatch", Napi::Function::New(env, OpenBatch, "openBatch"));
  exports.Set("sealFrames", Napi::Function::New(env, SealFrames, "sealFrames"));
  exports.Set("openFrames", Napi::Function::New(env, OpenFrames, "openFrames"));
  exports.Set("cancel", Napi::Function::New(env, Cancel, "cancel"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("secureMemoryStats", Napi::Function::New(env, SecureMemoryStats, "secureMemoryStats"));
}

}  // namespace hsmkms::binding
