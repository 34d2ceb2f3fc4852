#include "packed_items.h"

#include <cstring>

#include "call_args.h"

namespace hsmkms::binding {

std::vector<uint32_t> ReadItemEnds(Napi::Env env, const ByteView& ends, size_t count, size_t total,
                                   size_t min_item) {
  Require(env, ends.length == count * sizeof(uint32_t), "one end offset per item");
  std::vector<uint32_t> out(count);
  if (count > 0) std::memcpy(out.data(), ends.data, ends.length);
  size_t start = 0;
  for (uint32_t end : out) {
    Require(env, end >= start && end - start >= min_item,
            "item end offsets out of order or too short");
    start = end;
  }
  Require(env, start == total, "item end offsets do not cover the packed bytes");
  return out;
}

}  // namespace hsmkms::binding
