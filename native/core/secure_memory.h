// Memory for secrets: locked (mlock, never swapped), excluded from core dumps
// (MADV_DONTDUMP) and cleansed before it is returned. Small blocks come from
// locked 64 KiB slabs so that one key does not cost one locked page.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hsmkms::core {

class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t size);
  ~SecureBytes();
  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  [[nodiscard]] uint8_t* data() noexcept { return data_; }
  [[nodiscard]] const uint8_t* data() const noexcept { return data_; }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return data_ == nullptr; }
  // Cleanses and returns the memory now (also done by the destructor).
  void Release() noexcept;

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct SecureMemoryStats {
  size_t live_blocks;      // SecureBytes currently holding memory
  size_t locked_bytes;     // bytes of pages successfully mlock'ed
  bool lock_failed;        // some page could not be locked (RLIMIT_MEMLOCK)
};

[[nodiscard]] SecureMemoryStats GetSecureMemoryStats() noexcept;

}  // namespace hsmkms::core
