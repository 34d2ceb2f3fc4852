// Many AES-256-GCM messages in one crossing: one data buffer plus an offsets
// table in, one output buffer out. The batch is cut into chunks that run on
// the pool in parallel; the last chunk to finish settles the promise.
//
// Framed mode: item i is the ESDK regular frame firstSeq + i of a run
// (u32 seq || IV || ciphertext(F) || tag), fixed-size, so no offsets table.
#pragma once

#include <napi.h>

#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include "aead_job.h"

namespace hsmkms::binding {

class AeadBatch final : public Completion {
 public:
  // A run of regular frames of one message (the ESDK v1/v2 frame layout).
  struct Framing {
    static constexpr size_t kFrameOverhead = 4 + core::AesGcmKey::kOverhead;
    bool enabled = false;
    bool check_iv = false;  // open: the IV must be 8 zero bytes || seq (v2)
    uint32_t first_seq = 0;
    size_t frame_length = 0;
    std::array<uint8_t, 32> message_id{};
    size_t message_id_length = 0;  // 16 (v1) or 32 (v2)
    // Open: the body as the chunks it arrived in (empty: `data` is contiguous).
    // A frame lying in one segment is opened in place; one spanning segments
    // is gathered by its worker, so the event loop never copies the body.
    std::vector<ByteView> segments;
    std::vector<size_t> segment_ends;  // running totals of the segment lengths
  };
  struct Args {
    AeadDirection direction;
    std::shared_ptr<core::AesGcmKey> key;
    ByteView data, aad, output;
    const uint32_t* offsets;  // count + 1 entries into data; null when framed
    size_t count;
    Framing framing;
  };
  AeadBatch(EnvState* state, Args args, napi_deferred deferred, size_t chunks);

  void HoldArrays(napi_env env, napi_value data, napi_value offsets, napi_value aad,
                  napi_value output);
  // Framed open from segments: references each segment array (JS thread).
  void HoldSegments(napi_env env, napi_value segments);
  // Submits every chunk to the pool (JS thread).
  void Start(uint64_t cancel_id);
  void Complete(napi_env env) noexcept override;

 private:
  class Chunk final : public core::Task {
   public:
    Chunk(AeadBatch* batch, size_t begin, size_t end) : batch_(batch), begin_(begin), end_(end) {}
    void Run() noexcept override;
    void Finish() noexcept override;

   private:
    AeadBatch* batch_;
    size_t begin_, end_;
  };

  void SealRange(size_t begin, size_t end) noexcept;
  void OpenRange(size_t begin, size_t end) noexcept;
  void SealFrames(size_t begin, size_t end) noexcept;
  void OpenFrames(size_t begin, size_t end) noexcept;
  // The body AAD of frame `seq` into `aad` (room for core::esdk::kMaxBodyAad
  // bytes); returns its length.
  size_t FrameAad(uint32_t seq, uint8_t* aad) const noexcept;
  // The `length` body bytes at `offset`: in place, or gathered into `scratch`.
  const uint8_t* BodyBytes(size_t offset, size_t length, uint8_t* scratch) const noexcept;
  // The `length` body bytes at `offset` as the pieces they lie in (at most
  // `max`; 0 when there are more); returns how many.
  size_t BodyPieces(size_t offset, size_t length, core::AesGcmKey::Piece* out,
                    size_t max) const noexcept;
  [[nodiscard]] size_t OutputOffset(size_t i) const noexcept;

  EnvState* state_;
  Args args_;
  napi_deferred deferred_;
  napi_ref output_ref_ = nullptr;
  KeepAlive keep_alive_;
  std::vector<napi_ref> segment_refs_;
  std::vector<Chunk> chunks_;
  std::vector<uint8_t> failed_;  // per message, written by one chunk each
  std::atomic<size_t> remaining_;
  std::atomic<bool> aborted_{false};
  std::atomic<bool> internal_error_{false};
  std::atomic<bool> key_unavailable_{false};
  // Records a failure of message i (worker thread).
  void RecordFailure(size_t i, core::Status status) noexcept;
};

}  // namespace hsmkms::binding
