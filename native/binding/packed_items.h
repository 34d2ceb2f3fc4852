// Items of the root's batch operations (encryptMany, decryptMany), packed
// back to back by lib/root/batch-packing.ts: item i's IV is ivs[12i, 12i+12),
// its AAD aad[aad_end(i-1), aad_end(i)), its input input[in_end(i-1),
// in_end(i)). One array per field instead of n of each: one call, a few
// references, whatever the count.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "byte_view.h"

namespace hsmkms::binding {

struct PackedItems {
  // Each item's end offset in the packed AAD and input (copied from
  // JavaScript and checked on its thread: the workers trust them).
  std::vector<uint32_t> aad_ends, in_ends;

  [[nodiscard]] size_t count() const noexcept { return in_ends.size(); }
  [[nodiscard]] size_t aad_start(size_t i) const noexcept { return i == 0 ? 0 : aad_ends[i - 1]; }
  [[nodiscard]] size_t aad_length(size_t i) const noexcept { return aad_ends[i] - aad_start(i); }
  [[nodiscard]] size_t in_start(size_t i) const noexcept { return i == 0 ? 0 : in_ends[i - 1]; }
  [[nodiscard]] size_t in_length(size_t i) const noexcept { return in_ends[i] - in_start(i); }
};

// Reads the ends of `count` items (a Uint8Array over a Uint32Array, host
// byte order) and checks them: non-decreasing, each item at least
// `min_item` bytes, the last one `total`. RangeError otherwise.
[[nodiscard]] std::vector<uint32_t> ReadItemEnds(Napi::Env env, const ByteView& ends, size_t count,
                                                 size_t total, size_t min_item);

}  // namespace hsmkms::binding
