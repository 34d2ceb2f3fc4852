#include "root_functions.h"

#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "../core/pkcs11/hsm.h"
#include "../core/secure_memory.h"
#include "../core/soft/soft_root.h"
#include "byte_view.h"
#include "call_args.h"
#include "env_state.h"
#include "key_handle.h"
#include "open_root_job.h"
#include "open_soft_root_job.h"
#include "packed_items.h"
#include "root_handle.h"
#include "root_job.h"
#include "wrapped_key_ref.h"
#include "wrapped_key_value.h"

namespace hsmkms::binding {
namespace {

using core::RootOfTrust;

napi_value Promise(napi_env env, napi_deferred* deferred) {
  napi_value promise;
  NAPI_THROW_IF_FAILED(Napi::Env(env), napi_create_promise(env, deferred, &promise), nullptr);
  return promise;
}

// Starts `args` on the root's threads (the shared pool when there is no
// root). `handle` null: a public-key operation. A closed root rejects.
napi_value Start(const Napi::CallbackInfo& info, RootHandle* handle, RootJob::Args args,
                 napi_value out, napi_value iv, std::initializer_list<napi_value> inputs) {
  napi_env env = info.Env();
  EnvState* state = EnvState::Get(env);
  napi_deferred deferred;
  napi_value promise = Promise(env, &deferred);
  if (handle != nullptr) {
    args.root = handle->Acquire();
    if (args.root == nullptr) {
      napi_reject_deferred(
          env, deferred,
          state->MakeError(core::Status::kKeyUnavailable, "The root of trust is closed"));
      return promise;
    }
    args.hsm = handle->hsm();
  }
  core::WorkerPool& pool =
      args.root != nullptr ? args.root->threads() : core::WorkerPool::Shared();
  const bool batched = RootJob::Batched(args.op);
  auto* job = new RootJob(state, handle, std::move(args), deferred);
  job->Hold(env, handle != nullptr ? static_cast<napi_value>(info[0]) : nullptr, out, iv, inputs);
  state->BeginOperation();
  core::Task* task = job;
  state->Submit(pool, &task, 1, batched);
  return promise;
}

RootJob::Args ArgsFor(RootOp op) {
  RootJob::Args args;
  args.op = op;
  return args;
}

// The arguments every AES-GCM operation opens with: (handle, key, iv, aad, ...).
RootJob::Args KeyIvAadArgs(const Napi::CallbackInfo& info, RootOp op) {
  RootJob::Args args = ArgsFor(op);
  args.key = WrappedKeyRef::Unwrap(info.Env(), info[1]);
  args.iv = ArgBytes(info, 2);
  args.aad = ArgBytes(info, 3);
  return args;
}

// --- Opening and closing -------------------------------------------------------------------

std::string StringOption(Napi::Object options, const char* name) {
  Napi::Value value = options.Get(name);
  if (!value.IsString()) throw Napi::TypeError::New(options.Env(), std::string(name) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

double NumberOption(Napi::Object options, const char* name, double min, double max) {
  Napi::Value value = options.Get(name);
  if (!value.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(name) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  Require(options.Env(), number >= min && number <= max, "option out of range");
  return number;
}

// openPkcs11Root({ module, tokenLabel, pin, threads, keyCacheCapacity, privateSessionKeys,
//                  retry: { maxAttempts, totalMs } })
// The PIN (a Uint8Array the caller owns) is wiped once copied to locked memory.
Napi::Value OpenPkcs11Root(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Expected an options object");
  Napi::Object options = info[0].As<Napi::Object>();
  pkcs11::HsmConfig config;
  config.module_path = StringOption(options, "module");
  config.token_label = StringOption(options, "tokenLabel");
  config.threads = static_cast<size_t>(NumberOption(options, "threads", 1, 256));
  config.key_cache_capacity =
      static_cast<size_t>(NumberOption(options, "keyCacheCapacity", 0, 1 << 24));
  if (!options.Get("retry").IsObject()) throw Napi::TypeError::New(env, "retry must be an object");
  Napi::Object retry = options.Get("retry").As<Napi::Object>();
  config.retry.max_attempts = static_cast<uint32_t>(NumberOption(retry, "maxAttempts", 1, 1000));
  config.retry.total =
      std::chrono::milliseconds(static_cast<int64_t>(NumberOption(retry, "totalMs", 0, 3.6e6)));
  Napi::Value private_keys = options.Get("privateSessionKeys");
  if (!private_keys.IsBoolean()) throw Napi::TypeError::New(env, "privateSessionKeys must be a boolean");
  config.private_session_keys = private_keys.As<Napi::Boolean>().Value();

  const ByteView pin = GetBytes(env, options.Get("pin"), false);
  if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
  core::SecureBytes secure(pin.length);
  if (pin.length > 0) std::memcpy(secure.data(), pin.data, pin.length);
  WipeBytes(pin);

  napi_deferred deferred;
  napi_value promise = Promise(env, &deferred);
  EnvState* state = EnvState::Get(env);
  auto* job = new OpenRootJob(state, std::move(config), std::move(secure), deferred);
  state->BeginOperation();
  core::Task* task = job;
  state->Submit(pkcs11::Hsm::Threads(), &task, 1);
  return Napi::Value(env, promise);
}

// openSoftRoot({ keyFile } | { passphrase, salt }, threads, keyCacheCapacity)
// The passphrase (a Uint8Array the caller owns) is wiped once copied to locked memory.
Napi::Value OpenSoftRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Expected an options object");
  Napi::Object options = info[0].As<Napi::Object>();
  OpenSoftRootJob::Config config;
  config.threads = static_cast<size_t>(NumberOption(options, "threads", 1, 256));
  config.key_cache_capacity =
      static_cast<size_t>(NumberOption(options, "keyCacheCapacity", 0, 1 << 24));
  if (options.Has("keyFile") && !options.Get("keyFile").IsUndefined()) {
    config.key_file = StringOption(options, "keyFile");
    Require(env, !config.key_file.empty(), "keyFile must not be empty");
  } else {
    const ByteView salt = GetBytes(env, options.Get("salt"), false);
    if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
    config.salt.assign(salt.data, salt.data + salt.length);
    const ByteView passphrase = GetBytes(env, options.Get("passphrase"), false);
    if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
    core::SecureBytes secure(passphrase.length > 0 ? passphrase.length : 1);
    if (passphrase.length > 0) std::memcpy(secure.data(), passphrase.data, passphrase.length);
    WipeBytes(passphrase);
    Require(env, passphrase.length > 0, "passphrase must not be empty");
    config.passphrase = std::move(secure);
  }

  napi_deferred deferred;
  napi_value promise = Promise(env, &deferred);
  EnvState* state = EnvState::Get(env);
  auto* job = new OpenSoftRootJob(state, std::move(config), deferred);
  state->BeginOperation();
  core::Task* task = job;
  state->Submit(soft::SoftRoot::Threads(), &task, 1);
  return Napi::Value(env, promise);
}

// closeRoot(handle): settles when the operations in flight have and the root is released.
Napi::Value CloseRoot(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  return Napi::Value(info.Env(), handle->Close(info.Env(), info[0]));
}

// --- Operations ----------------------------------------------------------------------------
// Keys arrive prepared (prepareKey): parsed once, not on every call.

// prepareKey({ id, version, domainVersion, keySpec, keyUsage, algorithm, blob }) -> key reference
Napi::Value PrepareKey(const Napi::CallbackInfo& info) {
  return WrappedKeyRef::New(info.Env(), info[0]);
}

Napi::Value Kind(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), RootHandle::Unwrap(info.Env(), info[0])->kind());
}

// createDomainKey(handle, version) -> Buffer (the reference)
Napi::Value CreateDomainKey(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  RootJob::Args args = ArgsFor(RootOp::kCreateDomainKey);
  args.version = ReadUint32(info.Env(), info[1], "version");
  return Napi::Value(info.Env(), Start(info, handle, std::move(args), nullptr, nullptr, {}));
}

// openDomainKey(handle, version, reference)
Napi::Value OpenDomainKey(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  RootJob::Args args = ArgsFor(RootOp::kOpenDomainKey);
  args.version = ReadUint32(info.Env(), info[1], "version");
  args.in = ArgBytes(info, 2);
  return Napi::Value(info.Env(), Start(info, handle, std::move(args), nullptr, nullptr, {info[2]}));
}

// findDomainKey(handle, version) -> Buffer (the reference) or null when absent
Napi::Value FindDomainKey(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  RootJob::Args args = ArgsFor(RootOp::kFindDomainKey);
  args.version = ReadUint32(info.Env(), info[1], "version");
  return Napi::Value(info.Env(), Start(info, handle, std::move(args), nullptr, nullptr, {}));
}

// generateRandom(handle, out) -> out, filled
Napi::Value GenerateRandom(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  RootJob::Args args = ArgsFor(RootOp::kGenerateRandom);
  args.out = ArgBytes(info, 1);
  return Napi::Value(info.Env(), Start(info, handle, std::move(args), info[1], nullptr, {}));
}

// generateKey(handle, keySpec, keyUsage, domainVersion)
Napi::Value GenerateKey(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  RootJob::Args args = ArgsFor(RootOp::kGenerateKey);
  args.spec = ReadKeySpec(info.Env(), info[1]);
  args.usage = ReadKeyUsage(info.Env(), info[2]);
  args.version = ReadUint32(info.Env(), info[3], "domainVersion");
  return Napi::Value(info.Env(), Start(info, handle, std::move(args), nullptr, nullptr, {}));
}

// rewrapKey(handle, key, domainVersion) -> wrapped key
Napi::Value RewrapKey(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  RootJob::Args args = ArgsFor(RootOp::kRewrapKey);
  args.key = WrappedKeyRef::Unwrap(info.Env(), info[1]);
  args.version = ReadUint32(info.Env(), info[2], "domainVersion");
  return Napi::Value(info.Env(), Start(info, handle, std::move(args), nullptr, nullptr, {}));
}

// The shared shape of encrypt and encryptAeadKey: (handle, key, iv (12 B, in/out), aad,
// <what to encrypt>, out, result) -> result, the caller's { iv, ciphertext: out } (made in
// JavaScript: cheaper there, and holding it holds both arrays the worker writes).
// `set_input` reads argument 4 into `args` and says how many bytes it encrypts.
template <typename SetInput>
Napi::Value StartEncrypt(const Napi::CallbackInfo& info, RootOp op, SetInput set_input) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = KeyIvAadArgs(info, op);
  const size_t plaintext_length = set_input(args);
  args.out = ArgBytes(info, 5);
  Require(env, args.iv.length == RootOfTrust::kGcmIvSize, "IV must be 12 bytes");
  Require(env, args.out.length == plaintext_length + RootOfTrust::kGcmTagSize, "output size mismatch");
  if (!info[6].IsObject()) throw Napi::TypeError::New(env, "Expected a result object");
  Napi::Object result = info[6].As<Napi::Object>();
  Require(env, result.Get("iv") == info[2] && result.Get("ciphertext") == info[5],
          "the result must hold iv and out");
  return Napi::Value(env, Start(info, handle, std::move(args), info[6], nullptr, {info[3], info[4]}));
}

// The shared shape of encryptMany and decryptMany: (handle, key, ivs (12 B per
// item), aad, aadEnds, input, inputEnds, out) -> (Error | null)[], one per
// item (packed_items.h). encryptMany: out is the input + 16 B per item, item
// i's ciphertext || tag at its input's offset + 16 i. decryptMany: out is the
// input's size, item i's plaintext at the start of its input's slot.
Napi::Value StartMany(const Napi::CallbackInfo& info, RootOp op) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = KeyIvAadArgs(info, op);
  const ByteView aad_ends = ArgBytes(info, 4);
  args.in = ArgBytes(info, 5);
  const ByteView in_ends = ArgBytes(info, 6);
  args.out = ArgBytes(info, 7);
  Require(env, args.iv.length > 0 && args.iv.length % RootOfTrust::kGcmIvSize == 0,
          "one 12-byte IV per item");
  const size_t count = args.iv.length / RootOfTrust::kGcmIvSize;
  const bool encrypt = op == RootOp::kEncryptMany;
  args.items.aad_ends = ReadItemEnds(env, aad_ends, count, args.aad.length, 1);
  args.items.in_ends =
      ReadItemEnds(env, in_ends, count, args.in.length, encrypt ? 0 : RootOfTrust::kGcmTagSize);
  const size_t tags = encrypt ? count * RootOfTrust::kGcmTagSize : 0;
  Require(env, args.out.length == args.in.length + tags, "output size mismatch");
  napi_value out = info[7], ivs = info[2];
  return Napi::Value(env, Start(info, handle, std::move(args), out, ivs, {info[3], info[5]}));
}

Napi::Value EncryptMany(const Napi::CallbackInfo& info) {
  return StartMany(info, RootOp::kEncryptMany);
}

Napi::Value DecryptMany(const Napi::CallbackInfo& info) {
  return StartMany(info, RootOp::kDecryptMany);
}

// encrypt(handle, key, iv, aad, plaintext, out (plaintext + 16 B), result)
Napi::Value Encrypt(const Napi::CallbackInfo& info) {
  return StartEncrypt(info, RootOp::kEncrypt, [&](RootJob::Args& args) {
    args.in = ArgBytes(info, 4);
    return args.in.length;
  });
}

// generateDataKey(handle, key, iv, aad, plaintext (filled from the root's RNG), out
// (plaintext + 16 B), result): random bytes and their encryption in one HSM job
Napi::Value GenerateDataKey(const Napi::CallbackInfo& info) {
  return StartEncrypt(info, RootOp::kGenerateDataKey, [&](RootJob::Args& args) {
    args.in = ArgBytes(info, 4);
    Require(info.Env(), args.in.length >= 1 && args.in.length <= 4096,
            "a data key is 1 to 4096 bytes");
    return args.in.length;
  });
}

// encryptAeadKey(handle, key, iv, aad, dataKey (key handle), out (48 B), result): the data
// key's bytes go from locked memory to the root and never to JavaScript
Napi::Value EncryptAeadKey(const Napi::CallbackInfo& info) {
  return StartEncrypt(info, RootOp::kEncryptAeadKey, [&](RootJob::Args& args) {
    args.aead_key = UnwrapKey(info.Env(), info[4]);
    return core::AesGcmKey::kKeySize;
  });
}

// decrypt(handle, key, iv, aad, ciphertext (|| tag), out (>= ciphertext - 16 B; ciphertext-sized
// saves a call on SoftHSM)) -> the plaintext, a view of out
Napi::Value Decrypt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = KeyIvAadArgs(info, RootOp::kDecrypt);
  args.in = ArgBytes(info, 4);
  args.out = ArgBytes(info, 5);
  Require(env, args.iv.length == RootOfTrust::kGcmIvSize, "IV must be 12 bytes");
  Require(env,
          args.in.length < RootOfTrust::kGcmTagSize ||
              args.out.length >= args.in.length - RootOfTrust::kGcmTagSize,
          "output too small");
  return Napi::Value(env, Start(info, handle, std::move(args), info[5], nullptr,
                                {info[2], info[3], info[4]}));
}

// reEncrypt(handle, key, iv, aad, ciphertext (|| tag), destinationKey, destinationIv,
//           destinationAad, out (>= ciphertext bytes)) -> ciphertext || tag under the
//           destination, a view of out. The plaintext stays in locked memory.
Napi::Value ReEncrypt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = KeyIvAadArgs(info, RootOp::kReEncrypt);
  args.in = ArgBytes(info, 4);
  args.key2 = WrappedKeyRef::Unwrap(env, info[5]);
  args.iv2 = ArgBytes(info, 6);
  args.aad2 = ArgBytes(info, 7);
  args.out = ArgBytes(info, 8);
  Require(env, args.iv.length == RootOfTrust::kGcmIvSize, "IV must be 12 bytes");
  Require(env, args.iv2.length == RootOfTrust::kGcmIvSize, "destination IV must be 12 bytes");
  Require(env, args.out.length >= args.in.length, "output too small");
  return Napi::Value(env, Start(info, handle, std::move(args), info[8], info[6],
                                {info[2], info[3], info[4], info[7]}));
}

// decryptToAeadKey(handle, key, iv, aad, ciphertext (|| tag)) -> an AES-256-GCM key handle
// (the 32-byte plaintext stays in locked memory)
Napi::Value DecryptToAeadKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = KeyIvAadArgs(info, RootOp::kDecryptToAeadKey);
  args.in = ArgBytes(info, 4);
  Require(env, args.iv.length == RootOfTrust::kGcmIvSize, "IV must be 12 bytes");
  return Napi::Value(env, Start(info, handle, std::move(args), nullptr, nullptr,
                                {info[2], info[3], info[4]}));
}

// generateDataKeyHandle(handle, key, iv (12 B, in/out), aad, length (32), out (length + 16 B))
//   -> { dataKey: key handle, iv, ciphertext: out }
Napi::Value GenerateDataKeyHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = KeyIvAadArgs(info, RootOp::kGenerateDataKeyHandle);
  args.version = ReadUint32(env, info[4], "length");
  args.out = ArgBytes(info, 5);
  Require(env, args.iv.length == RootOfTrust::kGcmIvSize, "IV must be 12 bytes");
  Require(env, args.version == 32, "length must be 32");
  Require(env, args.out.length == args.version + RootOfTrust::kGcmTagSize, "output size mismatch");
  return Napi::Value(env, Start(info, handle, std::move(args), info[5], info[2], {info[3]}));
}

// rsaDecrypt(handle, key, hash, ciphertext, out (modulus-sized)) -> the plaintext, a view of out
Napi::Value RsaDecrypt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = ArgsFor(RootOp::kRsaDecrypt);
  args.key = WrappedKeyRef::Unwrap(env, info[1]);
  args.hash = ReadOaepHash(env, info[2]);
  args.in = ArgBytes(info, 3);
  args.out = ArgBytes(info, 4);
  return Napi::Value(env, Start(info, handle, std::move(args), info[4], nullptr, {info[3]}));
}

// sign(handle, key, algorithm, messageType, data, out (the largest signature of the key))
//   -> the signature (DER for ECDSA), a view of out
Napi::Value Sign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = ArgsFor(RootOp::kSign);
  args.key = WrappedKeyRef::Unwrap(env, info[1]);
  args.algorithm = ReadSigningAlgorithm(env, info[2]);
  args.message_type = ReadMessageType(env, info[3]);
  args.in = ArgBytes(info, 4);
  args.out = ArgBytes(info, 5);
  return Napi::Value(env, Start(info, handle, std::move(args), info[5], nullptr, {info[4]}));
}

// generateMac(handle, key, macAlgorithm, message, out (64 bytes)) -> the MAC, a view of out
Napi::Value GenerateMac(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = ArgsFor(RootOp::kGenerateMac);
  args.key = WrappedKeyRef::Unwrap(env, info[1]);
  args.mac_algorithm = ReadMacAlgorithm(env, info[2]);
  args.in = ArgBytes(info, 3);
  args.out = ArgBytes(info, 4);
  return Napi::Value(env, Start(info, handle, std::move(args), info[4], nullptr, {info[3]}));
}

// verifyMac(handle, key, macAlgorithm, message, mac) -> boolean (compared in the root)
Napi::Value VerifyMac(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = ArgsFor(RootOp::kVerifyMac);
  args.key = WrappedKeyRef::Unwrap(env, info[1]);
  args.mac_algorithm = ReadMacAlgorithm(env, info[2]);
  args.in = ArgBytes(info, 3);
  args.aad = ArgBytes(info, 4);
  return Napi::Value(env, Start(info, handle, std::move(args), nullptr, nullptr, {info[3], info[4]}));
}

// evictKey(handle, id, version)
Napi::Value EvictKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootHandle* handle = RootHandle::Unwrap(env, info[0]);
  RootJob::Args args = ArgsFor(RootOp::kEvictKey);
  if (!info[1].IsString()) throw Napi::TypeError::New(env, "Expected id to be a string");
  args.id = info[1].As<Napi::String>().Utf8Value();
  args.version = ReadUint32(env, info[2], "version");
  return Napi::Value(env, Start(info, handle, std::move(args), nullptr, nullptr, {}));
}

// stats(handle)
Napi::Value Stats(const Napi::CallbackInfo& info) {
  RootHandle* handle = RootHandle::Unwrap(info.Env(), info[0]);
  return Napi::Value(info.Env(),
                     Start(info, handle, ArgsFor(RootOp::kStats), nullptr, nullptr, {}));
}

// encryptOaep(spki, hash, plaintext) -> ciphertext (host-side, on the AES pool)
Napi::Value EncryptOaep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootJob::Args args = ArgsFor(RootOp::kEncryptOaep);
  args.extra = ArgBytes(info, 0);
  args.hash = ReadOaepHash(env, info[1]);
  args.in = ArgBytes(info, 2);
  return Napi::Value(env, Start(info, nullptr, std::move(args), nullptr, nullptr, {info[0], info[2]}));
}

// verify(spki, algorithm, messageType, data, signature) -> boolean (host-side)
Napi::Value Verify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootJob::Args args = ArgsFor(RootOp::kVerify);
  args.extra = ArgBytes(info, 0);
  args.algorithm = ReadSigningAlgorithm(env, info[1]);
  args.message_type = ReadMessageType(env, info[2]);
  args.in = ArgBytes(info, 3);
  args.aad = ArgBytes(info, 4);
  return Napi::Value(env, Start(info, nullptr, std::move(args), nullptr, nullptr,
                                {info[0], info[3], info[4]}));
}

}  // namespace

void ExportRootFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("openPkcs11Root", Napi::Function::New(env, OpenPkcs11Root, "openPkcs11Root"));
  exports.Set("openSoftRoot", Napi::Function::New(env, OpenSoftRoot, "openSoftRoot"));
  exports.Set("closeRoot", Napi::Function::New(env, CloseRoot, "closeRoot"));
  Napi::Object root = Napi::Object::New(env);
  root.Set("kind", Napi::Function::New(env, Kind, "kind"));
  root.Set("prepareKey", Napi::Function::New(env, PrepareKey, "prepareKey"));
  root.Set("createDomainKey", Napi::Function::New(env, CreateDomainKey, "createDomainKey"));
  root.Set("openDomainKey", Napi::Function::New(env, OpenDomainKey, "openDomainKey"));
  root.Set("findDomainKey", Napi::Function::New(env, FindDomainKey, "findDomainKey"));
  root.Set("reEncrypt", Napi::Function::New(env, ReEncrypt, "reEncrypt"));
  root.Set("decryptToAeadKey", Napi::Function::New(env, DecryptToAeadKey, "decryptToAeadKey"));
  root.Set("generateDataKeyHandle",
           Napi::Function::New(env, GenerateDataKeyHandle, "generateDataKeyHandle"));
  root.Set("generateDataKey", Napi::Function::New(env, GenerateDataKey, "generateDataKey"));
  root.Set("generateRandom", Napi::Function::New(env, GenerateRandom, "generateRandom"));
  root.Set("generateKey", Napi::Function::New(env, GenerateKey, "generateKey"));
  root.Set("rewrapKey", Napi::Function::New(env, RewrapKey, "rewrapKey"));
  root.Set("encrypt", Napi::Function::New(env, Encrypt, "encrypt"));
  root.Set("encryptMany", Napi::Function::New(env, EncryptMany, "encryptMany"));
  root.Set("decryptMany", Napi::Function::New(env, DecryptMany, "decryptMany"));
  root.Set("encryptAeadKey", Napi::Function::New(env, EncryptAeadKey, "encryptAeadKey"));
  root.Set("decrypt", Napi::Function::New(env, Decrypt, "decrypt"));
  root.Set("rsaDecrypt", Napi::Function::New(env, RsaDecrypt, "rsaDecrypt"));
  root.Set("sign", Napi::Function::New(env, Sign, "sign"));
  root.Set("generateMac", Napi::Function::New(env, GenerateMac, "generateMac"));
  root.Set("verifyMac", Napi::Function::New(env, VerifyMac, "verifyMac"));
  root.Set("evictKey", Napi::Function::New(env, EvictKey, "evictKey"));
  root.Set("stats", Napi::Function::New(env, Stats, "stats"));
  root.Set("encryptOaep", Napi::Function::New(env, EncryptOaep, "encryptOaep"));
  root.Set("verify", Napi::Function::New(env, Verify, "verify"));
  exports.Set("root", root);
}

}  // namespace hsmkms::binding
