#include "aead_batch.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "../core/esdk_frame.h"

namespace hsmkms::binding {

using core::AesGcmKey;

AeadBatch::AeadBatch(EnvState* state, Args args, napi_deferred deferred, size_t chunks)
    : state_(state),
      args_(std::move(args)),
      deferred_(deferred),
      failed_(args_.count, 0),
      remaining_(chunks) {
  chunks_.reserve(chunks);
  for (size_t c = 0; c < chunks; ++c) {
    chunks_.emplace_back(this, args_.count * c / chunks, args_.count * (c + 1) / chunks);
  }
}

void AeadBatch::HoldArrays(napi_env env, napi_value data, napi_value offsets, napi_value aad,
                           napi_value output) {
  keep_alive_.Hold(env, data);
  keep_alive_.Hold(env, offsets);
  keep_alive_.Hold(env, aad);
  napi_create_reference(env, output, 1, &output_ref_);
}

void AeadBatch::HoldSegments(napi_env env, napi_value segments) {
  uint32_t n = 0;
  napi_get_array_length(env, segments, &n);
  segment_refs_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value element;
    napi_ref ref;
    if (napi_get_element(env, segments, i, &element) == napi_ok &&
        napi_create_reference(env, element, 1, &ref) == napi_ok) {
      segment_refs_.push_back(ref);
    }
  }
}

void AeadBatch::Start(uint64_t cancel_id) {
  std::vector<core::Task*> tasks;
  tasks.reserve(chunks_.size());
  for (Chunk& chunk : chunks_) {
    chunk.cancel_id = cancel_id;
    tasks.push_back(&chunk);
  }
  state_->Submit(tasks.data(), tasks.size());
}

size_t AeadBatch::OutputOffset(size_t i) const noexcept {
  return args_.direction == AeadDirection::kSeal ? args_.offsets[i] + i * AesGcmKey::kOverhead
                                                 : args_.offsets[i] - i * AesGcmKey::kOverhead;
}

void AeadBatch::SealRange(size_t begin, size_t end) noexcept {
  for (size_t i = begin; i < end; ++i) {
    const uint32_t start = args_.offsets[i];
    // A null IV: Seal draws a random one (bulk-buffered DRBG output).
    const core::Status status =
        args_.key->Seal(nullptr, args_.data.data + start, args_.offsets[i + 1] - start,
                        args_.aad.data, args_.aad.length, args_.output.data + OutputOffset(i));
    if (status != core::Status::kOk) RecordFailure(i, status);
  }
}

void AeadBatch::RecordFailure(size_t i, core::Status status) noexcept {
  if (status == core::Status::kInvalidCiphertext) {
    failed_[i] = 1;
  } else if (status == core::Status::kKeyUnavailable) {
    key_unavailable_ = true;
  } else {
    internal_error_ = true;
  }
}

void AeadBatch::OpenRange(size_t begin, size_t end) noexcept {
  for (size_t i = begin; i < end; ++i) {
    const uint32_t start = args_.offsets[i];
    const core::Status status =
        args_.key->Open(args_.data.data + start, args_.offsets[i + 1] - start, args_.aad.data,
                        args_.aad.length, args_.output.data + OutputOffset(i));
    if (status != core::Status::kOk) RecordFailure(i, status);
  }
}

namespace {

using core::esdk::FrameIv;
using core::esdk::GetU32;
using core::esdk::PutU32;
constexpr size_t kMaxFrameAad = core::esdk::kMaxBodyAad;

}  // namespace

size_t AeadBatch::FrameAad(uint32_t seq, uint8_t* aad) const noexcept {
  const Framing& f = args_.framing;
  return core::esdk::BodyAad(f.message_id.data(), f.message_id_length, false, seq, f.frame_length,
                             aad);
}

void AeadBatch::SealFrames(size_t begin, size_t end) noexcept {
  const Framing& f = args_.framing;
  const size_t stride = f.frame_length + Framing::kFrameOverhead;
  uint8_t aad[kMaxFrameAad];
  uint8_t iv[AesGcmKey::kIvSize];
  for (size_t i = begin; i < end; ++i) {
    const auto seq = static_cast<uint32_t>(f.first_seq + i);
    uint8_t* frame = args_.output.data + i * stride;
    PutU32(frame, seq);
    FrameIv(seq, iv);
    const core::Status status =
        args_.key->Seal(iv, args_.data.data + i * f.frame_length, f.frame_length, aad,
                        FrameAad(seq, aad), frame + 4);
    if (status != core::Status::kOk) RecordFailure(i, status);
  }
}

const uint8_t* AeadBatch::BodyBytes(size_t offset, size_t length, uint8_t* scratch) const noexcept {
  const Framing& f = args_.framing;
  if (f.segments.empty()) return args_.data.data + offset;
  size_t k = static_cast<size_t>(
      std::upper_bound(f.segment_ends.begin(), f.segment_ends.end(), offset) -
      f.segment_ends.begin());
  size_t start = f.segment_ends[k] - f.segments[k].length;
  if (offset + length <= f.segment_ends[k]) return f.segments[k].data + (offset - start);
  for (size_t copied = 0; copied < length; ++k, start = f.segment_ends[k - 1]) {
    const size_t from = offset + copied - start;
    const size_t take = std::min(f.segments[k].length - from, length - copied);
    std::memcpy(scratch + copied, f.segments[k].data + from, take);
    copied += take;
  }
  return scratch;
}

size_t AeadBatch::BodyPieces(size_t offset, size_t length, core::AesGcmKey::Piece* out,
                             size_t max) const noexcept {
  const Framing& f = args_.framing;
  if (f.segments.empty()) {
    out[0] = {args_.data.data + offset, length};
    return 1;
  }
  size_t k = static_cast<size_t>(
      std::upper_bound(f.segment_ends.begin(), f.segment_ends.end(), offset) -
      f.segment_ends.begin());
  size_t start = f.segment_ends[k] - f.segments[k].length;
  size_t n = 0;
  for (size_t done = 0; done < length; ++k, start = f.segment_ends[k - 1]) {
    if (n == max) return 0;
    const size_t from = offset + done - start;
    const size_t take = std::min(f.segments[k].length - from, length - done);
    out[n++] = {f.segments[k].data + from, take};
    done += take;
  }
  return n;
}

void AeadBatch::OpenFrames(size_t begin, size_t end) noexcept {
  const Framing& f = args_.framing;
  const size_t stride = f.frame_length + Framing::kFrameOverhead;
  constexpr size_t kHead = 4 + AesGcmKey::kIvSize;  // u32 seq || IV
  // A frame spanning the chunks it came in is opened where it lies, piece by
  // piece; only one in more pieces than this (tiny chunks) is gathered first.
  constexpr size_t kMaxPieces = 8;
  uint8_t aad[kMaxFrameAad];
  uint8_t iv[AesGcmKey::kIvSize];
  uint8_t head[kHead];
  uint8_t tag[AesGcmKey::kTagSize];
  std::unique_ptr<uint8_t[]> scratch;
  for (size_t i = begin; i < end; ++i) {
    const auto seq = static_cast<uint32_t>(f.first_seq + i);
    const size_t offset = i * stride;
    const uint8_t* frame_head = BodyBytes(offset, kHead, head);
    FrameIv(seq, iv);
    // A frame out of order, or (v2) with an IV other than its sequence number, fails the run.
    const bool iv_mismatch = f.check_iv && std::memcmp(frame_head + 4, iv, sizeof iv) != 0;
    if (GetU32(frame_head) != seq || iv_mismatch) {
      RecordFailure(i, core::Status::kInvalidCiphertext);
      continue;
    }
    AesGcmKey::Piece pieces[kMaxPieces];
    size_t count = BodyPieces(offset + kHead, f.frame_length, pieces, kMaxPieces);
    if (count == 0) {
      if (!scratch) scratch.reset(new (std::nothrow) uint8_t[f.frame_length]);
      if (!scratch) {
        internal_error_ = true;
        return;
      }
      pieces[0] = {BodyBytes(offset + kHead, f.frame_length, scratch.get()), f.frame_length};
      count = 1;
    }
    // The frame's own IV: v1 frames need not derive it from the sequence number.
    const uint8_t* frame_tag = BodyBytes(offset + stride - sizeof tag, sizeof tag, tag);
    const core::Status status =
        args_.key->OpenPieces(frame_head + 4, pieces, count, frame_tag, aad, FrameAad(seq, aad),
                              args_.output.data + i * f.frame_length);
    if (status != core::Status::kOk) RecordFailure(i, status);
  }
}

void AeadBatch::Chunk::Run() noexcept {
  const bool seal = batch_->args_.direction == AeadDirection::kSeal;
  if (batch_->args_.framing.enabled) {
    seal ? batch_->SealFrames(begin_, end_) : batch_->OpenFrames(begin_, end_);
  } else {
    seal ? batch_->SealRange(begin_, end_) : batch_->OpenRange(begin_, end_);
  }
}

void AeadBatch::Chunk::Finish() noexcept {
  if (cancelled()) batch_->aborted_ = true;
  if (batch_->remaining_.fetch_sub(1) == 1) {
    batch_->args_.key.reset();
    batch_->state_->PostCompletion(batch_);
  }
}

void AeadBatch::Complete(napi_env env) noexcept {
  if (env != nullptr) {
    napi_value output = nullptr;
    napi_get_reference_value(env, output_ref_, &output);
    size_t failures = 0;
    for (uint8_t f : failed_) failures += f;
    const bool aborted = aborted_.load();
    if (failures == 0 && !aborted && !internal_error_ && !key_unavailable_) {
      napi_resolve_deferred(env, deferred_, output);
    } else {
      // Release nothing from a batch that did not wholly succeed.
      OPENSSL_cleanse(args_.output.data, args_.output.length);
      const core::Status status = aborted            ? core::Status::kAborted
                                  : key_unavailable_ ? core::Status::kKeyUnavailable
                                  : internal_error_  ? core::Status::kInternal
                                                     : core::Status::kInvalidCiphertext;
      Napi::Value error = state_->MakeError(status, StatusMessage(status));
      if (status == core::Status::kInvalidCiphertext && error.IsObject()) {
        Napi::Array indices = Napi::Array::New(env);
        for (size_t i = 0, k = 0; i < failed_.size(); ++i) {
          if (failed_[i]) indices.Set(static_cast<uint32_t>(k++), Napi::Number::New(env, i));
        }
        error.As<Napi::Object>().Set("failedIndices", indices);
      }
      napi_reject_deferred(env, deferred_, error);
    }
    napi_delete_reference(env, output_ref_);
    keep_alive_.Release(env);
    for (napi_ref ref : segment_refs_) napi_delete_reference(env, ref);
  }
  delete this;
}

}  // namespace hsmkms::binding
