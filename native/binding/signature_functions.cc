#include "signature_functions.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/message_signature.h"
#include "call_args.h"
#include "completion.h"
#include "env_state.h"
#include "signature_lane.h"
#include "tagged_object.h"

namespace hsmkms::binding {
namespace {

using core::MessageSignature;
using core::SignatureCurve;
using core::Status;

constexpr napi_type_tag kSignatureTag = {0x6873'6d6b'6d73'7367ULL, 0x6e61'7475'7265'6c6eULL};

void ThrowStatus(Napi::Env env, Status status) {
  throw Napi::Error(env, EnvState::Get(env)->MakeError(status, StatusMessage(status)));
}

// The lane of a handle; throws a TypeError for anything else.
const std::shared_ptr<Lane>& LaneOf(Napi::Env env, napi_value value) {
  auto* lane = UnwrapTagged<std::shared_ptr<Lane>>(env, value, kSignatureTag);
  if (lane == nullptr) throw Napi::TypeError::New(env, "Expected a message signature handle");
  return *lane;
}

// A lane that still takes work: KeyUnavailableException once released or finished.
const std::shared_ptr<Lane>& OpenLane(Napi::Env env, napi_value value) {
  const std::shared_ptr<Lane>& lane = LaneOf(env, value);
  if (lane->signature == nullptr || lane->release_when_idle) {
    ThrowStatus(env, Status::kKeyUnavailable);
  }
  return lane;
}

SignatureCurve ReadCurve(Napi::Env env, napi_value value) {
  const std::string name = Napi::Value(env, value).ToString().Utf8Value();
  if (name == "P-256") return SignatureCurve::kP256Sha256;
  if (name == "P-384") return SignatureCurve::kP384Sha384;
  throw Napi::RangeError::New(env, "curve must be P-256 or P-384");
}

Napi::Object WrapLane(Napi::Env env, std::unique_ptr<MessageSignature> signature) {
  auto lane = std::make_shared<Lane>();
  lane->signature = std::move(signature);
  // Garbage collection drops this reference; jobs in flight hold their own.
  return WrapTagged(env, new std::shared_ptr<Lane>(std::move(lane)), kSignatureTag);
}

// A signer (a fresh key pair: a scalar multiplication) or a verifier (a
// compressed point to decode and check), made on the digest pool: about a
// millisecond each for P-384 here.
class NewSignatureJob final : public core::Task, public Completion {
 public:
  // `point` empty: a signer; else a verifier for that compressed point.
  NewSignatureJob(EnvState* state, SignatureCurve curve, std::vector<uint8_t> point,
                  napi_deferred deferred)
      : state_(state), curve_(curve), point_(std::move(point)), deferred_(deferred) {}

  void Run() noexcept override {
    try {
      if (point_.empty()) {
        status_ = MessageSignature::NewSigner(curve_, &signature_);
        if (status_ == Status::kOk) status_ = signature_->CompressedPublicKey(&public_key_);
      } else {
        status_ = MessageSignature::NewVerifier(curve_, point_.data(), point_.size(), &signature_);
      }
    } catch (const std::bad_alloc&) {
      status_ = Status::kInternal;
    }
  }
  void Finish() noexcept override {
    if (cancelled()) status_ = Status::kAborted;
    state_->PostCompletion(this);
  }
  void Complete(napi_env env) noexcept override {
    if (env != nullptr) {
      Status status = status_;
      if (status == Status::kOk) {
        try {
          napi_resolve_deferred(env, deferred_, Result(Napi::Env(env)));
        } catch (const Napi::Error&) {
          status = Status::kInternal;  // no handle could be made (a terminating worker)
        }
      }
      // MakeError never throws (it returns an empty value when JavaScript cannot run).
      if (status != Status::kOk) {
        napi_reject_deferred(env, deferred_, state_->MakeError(status, StatusMessage(status)));
      }
    }
    delete this;
  }

 private:
  // A verifier's handle, or a signer's { handle, publicKey }.
  Napi::Value Result(Napi::Env env) {
    Napi::Value handle = WrapLane(env, std::move(signature_));
    if (!point_.empty()) return handle;
    Napi::Object result = Napi::Object::New(env);
    result.Set("publicKey",
               Napi::Buffer<uint8_t>::Copy(env, public_key_.data(), public_key_.size()));
    result.Set("handle", handle);
    return result;
  }

  EnvState* state_;
  SignatureCurve curve_;
  std::vector<uint8_t> point_;
  napi_deferred deferred_;
  std::unique_ptr<MessageSignature> signature_;
  std::vector<uint8_t> public_key_;
  Status status_ = Status::kInternal;
};

Napi::Value StartNewSignature(Napi::Env env, SignatureCurve curve, std::vector<uint8_t> point) {
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  EnvState* state = EnvState::Get(env);
  core::Task* task = new NewSignatureJob(state, curve, std::move(point), deferred);
  state->BeginOperation();
  state->Submit(DigestPool(), &task, 1);
  return Napi::Value(env, promise);
}

// newSigner(curve) -> Promise<{ handle, publicKey (compressed point) }>
Napi::Value NewSigner(const Napi::CallbackInfo& info) {
  return StartNewSignature(info.Env(), ReadCurve(info.Env(), info[0]), {});
}

// newVerifier(curve, compressedPoint) -> Promise<handle>; InvalidCiphertextException
// for a bad point
Napi::Value NewVerifier(const Napi::CallbackInfo& info) {
  const SignatureCurve curve = ReadCurve(info.Env(), info[0]);
  const ByteView point = ArgBytes(info, 1);
  // A copy (a few dozen bytes): the caller may reuse its buffer. Never empty: empty means a signer.
  std::vector<uint8_t> copy(point.data, point.data + point.length);
  if (copy.empty()) ThrowStatus(info.Env(), Status::kInvalidCiphertext);
  return StartNewSignature(info.Env(), curve, std::move(copy));
}

// updateSync(handle, bytes): hashed here, on the JS thread (no job may be in flight)
Napi::Value UpdateSync(const Napi::CallbackInfo& info) {
  const std::shared_ptr<Lane>& lane = OpenLane(info.Env(), info[0]);
  Require(info.Env(), lane->in_flight == 0, "digest updates are in flight");
  const ByteView bytes = ArgBytes(info, 1);
  const Status status = lane->signature->Update(bytes.data, bytes.length);
  if (status != Status::kOk) ThrowStatus(info.Env(), status);
  return info.Env().Undefined();
}

// update(handle, bytes | bytes[]) -> Promise<void>, settled once hashed on the
// digest pool after every job submitted before it (an array's parts in
// order). The bytes must not change until then.
Napi::Value Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Lane>& lane = OpenLane(env, info[0]);
  // Read every argument before anything is created: a bad one throws with nothing to undo.
  std::vector<std::pair<napi_value, ByteView>> parts;
  if (info[1].IsArray()) {
    Napi::Array array = info[1].As<Napi::Array>();
    const uint32_t n = array.Length();
    Require(env, n <= 1u << 16, "too many parts");
    parts.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      napi_value part = array.Get(i);
      parts.emplace_back(part, BytesOf(env, part));
    }
  } else {
    parts.emplace_back(info[1], ArgBytes(info, 1));
  }
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  auto* job = new LaneJob(lane, LaneJob::Kind::kUpdate, deferred);
  for (const auto& [array, bytes] : parts) job->Add(env, array, bytes);
  Enqueue(EnvState::Get(env), lane, job);
  return Napi::Value(env, promise);
}

// sign(handle) -> Promise<Buffer> (DER), after every job before it; the
// signing key is released after (one signature per message)
Napi::Value Sign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Lane>& lane = OpenLane(env, info[0]);
  Require(env, lane->signature->can_sign(), "a verifier cannot sign");
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  Enqueue(EnvState::Get(env), lane, new LaneJob(lane, LaneJob::Kind::kSign, deferred));
  return Napi::Value(env, promise);
}

// verify(handle, der) -> Promise<boolean>, after every job before it
Napi::Value Verify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Lane>& lane = OpenLane(env, info[0]);
  const ByteView der = ArgBytes(info, 1);
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  auto* job = new LaneJob(lane, LaneJob::Kind::kVerify, deferred);
  job->Add(env, info[1], der);
  Enqueue(EnvState::Get(env), lane, job);
  return Napi::Value(env, promise);
}

// release(handle): frees the key now, or once the jobs in flight settle
Napi::Value Release(const Napi::CallbackInfo& info) {
  const std::shared_ptr<Lane>& lane = LaneOf(info.Env(), info[0]);
  lane->release_when_idle = true;
  ReleaseIfIdle(*lane);
  return info.Env().Undefined();
}

}  // namespace

void ExportSignatureFunctions(Napi::Env env, Napi::Object exports) {
  Napi::Object signature = Napi::Object::New(env);
  signature.Set("newSigner", Napi::Function::New(env, NewSigner, "newSigner"));
  signature.Set("newVerifier", Napi::Function::New(env, NewVerifier, "newVerifier"));
  signature.Set("updateSync", Napi::Function::New(env, UpdateSync, "updateSync"));
  signature.Set("update", Napi::Function::New(env, Update, "update"));
  signature.Set("sign", Napi::Function::New(env, Sign, "sign"));
  signature.Set("verify", Napi::Function::New(env, Verify, "verify"));
  signature.Set("release", Napi::Function::New(env, Release, "release"));
  exports.Set("signature", signature);
}

}  // namespace hsmkms::binding
