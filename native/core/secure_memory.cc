#include "secure_memory.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

namespace hsmkms::core {
namespace {

constexpr size_t kSlotSize = 64;
constexpr size_t kSlabSize = 64 * 1024;

struct Arena {
  std::mutex mutex;
  std::vector<uint8_t*> free_slots;
  std::vector<uint8_t*> unlocked_pages;  // page blocks whose mlock failed
  size_t live_blocks = 0;
  size_t locked_bytes = 0;
  bool lock_failed = false;
};

// Intentionally leaked: secrets may be released from static destructors or
// worker threads during exit, after a static arena would already be gone.
Arena& GetArena() {
  static Arena* arena = new Arena();
  return *arena;
}

size_t PageRound(size_t size) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}

// Maps, locks and marks no-dump; *locked tells whether mlock succeeded.
// Caller holds the arena lock.
uint8_t* MapLocked(Arena& arena, size_t bytes, bool* locked) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  *locked = mlock(p, bytes) == 0;
  if (*locked) {
    arena.locked_bytes += bytes;
  } else {
    arena.lock_failed = true;
  }
#ifdef MADV_DONTDUMP
  madvise(p, bytes, MADV_DONTDUMP);
#endif
  return static_cast<uint8_t*>(p);
}

uint8_t* Allocate(size_t size) {
  Arena& arena = GetArena();
  std::lock_guard<std::mutex> lock(arena.mutex);
  uint8_t* block = nullptr;
  bool locked = false;
  if (size <= kSlotSize) {
    if (arena.free_slots.empty()) {
      uint8_t* slab = MapLocked(arena, kSlabSize, &locked);
      if (slab == nullptr) return nullptr;
      for (size_t off = kSlabSize; off >= kSlotSize; off -= kSlotSize) {
        arena.free_slots.push_back(slab + off - kSlotSize);
      }
    }
    block = arena.free_slots.back();
    arena.free_slots.pop_back();
  } else {
    block = MapLocked(arena, PageRound(size), &locked);
    if (block == nullptr) return nullptr;
    // Free() must not count an unlocked block out of locked_bytes.
    if (!locked) {
      try {
        arena.unlocked_pages.push_back(block);
      } catch (const std::bad_alloc&) {
        munmap(block, PageRound(size));
        return nullptr;
      }
    }
  }
  ++arena.live_blocks;
  return block;
}

void Free(uint8_t* block, size_t size) {
  OPENSSL_cleanse(block, size <= kSlotSize ? kSlotSize : size);
  Arena& arena = GetArena();
  std::lock_guard<std::mutex> lock(arena.mutex);
  --arena.live_blocks;
  if (size <= kSlotSize) {
    arena.free_slots.push_back(block);
  } else {
    const size_t bytes = PageRound(size);
    const auto unlocked =
        std::find(arena.unlocked_pages.begin(), arena.unlocked_pages.end(), block);
    if (unlocked != arena.unlocked_pages.end()) {
      arena.unlocked_pages.erase(unlocked);
    } else if (munlock(block, bytes) == 0) {
      arena.locked_bytes -= bytes;
    }
    munmap(block, bytes);
  }
}

}  // namespace

SecureBytes::SecureBytes(size_t size) : size_(size) {
  data_ = Allocate(size == 0 ? 1 : size);
  if (data_ == nullptr) throw std::bad_alloc();
}

SecureBytes::~SecureBytes() { Release(); }

SecureBytes::SecureBytes(SecureBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void SecureBytes::Release() noexcept {
  if (data_ == nullptr) return;
  Free(data_, size_ == 0 ? 1 : size_);
  data_ = nullptr;
  size_ = 0;
}

SecureMemoryStats GetSecureMemoryStats() noexcept {
  Arena& arena = GetArena();
  std::lock_guard<std::mutex> lock(arena.mutex);
  return {arena.live_blocks, arena.locked_bytes, arena.lock_failed};
}

}  // namespace hsmkms::core
