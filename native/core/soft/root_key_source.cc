#include "root_key_source.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

#include "../random.h"

namespace hsmkms::soft {
namespace {

constexpr uint64_t kScryptN = uint64_t{1} << 15;
constexpr uint32_t kScryptR = 8;
constexpr uint32_t kScryptP = 1;
constexpr size_t kMinSaltSize = 16;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool ReadFully(int fd, uint8_t* out, size_t len) {
  while (len > 0) {
    const ssize_t n = read(fd, out, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteFully(int fd, const uint8_t* data, size_t len) {
  while (len > 0) {
    const ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

core::Status ReadExisting(int fd, core::SecureBytes* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return core::Status::kInternal;
  // A root key anyone else can read is not a secret any more: refuse it.
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
      st.st_size != static_cast<off_t>(kRootKeyFileSize)) {
    return core::Status::kInvalidState;
  }
  core::SecureBytes key(kRootKeyFileSize);
  if (!ReadFully(fd, key.data(), key.size())) return core::Status::kInternal;
  *out = std::move(key);
  return core::Status::kOk;
}

// Writes the key into a temporary file first and links it into place: the
// key file appears whole or not at all, so a process killed mid-creation
// (SIGKILL, power loss) never leaves a short file that would refuse every
// later open. link() fails with EEXIST when another process won the race.
core::Status CreateNew(const std::string& path, core::SecureBytes* out) {
  // Unique in this process (the counter) and among live ones (the pid): a
  // file already there is a leftover of a killed process that had our pid.
  static std::atomic<unsigned> creations{0};
  const std::string temp =
      path + ".new-" + std::to_string(getpid()) + "-" + std::to_string(creations++);
  unlink(temp.c_str());
  Fd file;
  file.fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (file.fd < 0) return errno == ENOENT ? core::Status::kNotFound : core::Status::kInternal;
  core::SecureBytes key(kRootKeyFileSize);
  bool ok = core::PrivateRandomBytes(key.data(), key.size()) == core::Status::kOk &&
            WriteFully(file.fd, key.data(), key.size()) && fsync(file.fd) == 0;
  core::Status status = ok ? core::Status::kOk : core::Status::kInternal;
  if (ok && link(temp.c_str(), path.c_str()) != 0) {
    status = errno == EEXIST ? core::Status::kAlreadyExists : core::Status::kInternal;
  }
  unlink(temp.c_str());
  if (status == core::Status::kOk) {
    // Make the new directory entry durable too.
    Fd dir;
    dir.fd = open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir.fd < 0 || fsync(dir.fd) != 0) {
      unlink(path.c_str());
      return core::Status::kInternal;
    }
    *out = std::move(key);
  }
  return status;
}

}  // namespace

core::Status LoadOrCreateRootKeyFile(const std::string& path, bool* created,
                                     core::SecureBytes* out) {
  *created = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd file;
    file.fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (file.fd >= 0) return ReadExisting(file.fd, out);
    if (errno == ELOOP) return core::Status::kInvalidState;
    if (errno != ENOENT) return core::Status::kInternal;
    const core::Status status = CreateNew(path, out);
    if (status == core::Status::kOk) {
      *created = true;
      return status;
    }
    // Another process created it between our open and our create: read theirs.
    if (status != core::Status::kAlreadyExists) return status;
  }
  return core::Status::kInternal;
}

core::Status DeriveRootKey(const uint8_t* passphrase, size_t passphrase_len, const uint8_t* salt,
                           size_t salt_len, core::SecureBytes* out) {
  if (passphrase_len == 0 || salt_len < kMinSaltSize) return core::Status::kValidation;
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr),
                                                         &EVP_KDF_free);
  if (!kdf) return core::Status::kUnsupportedRuntime;
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()),
                                                                 &EVP_KDF_CTX_free);
  if (!ctx) return core::Status::kInternal;
  uint64_t n = kScryptN;
  uint32_t r = kScryptR, p = kScryptP;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<uint8_t*>(passphrase),
                                        passphrase_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt), salt_len),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_end()};
  core::SecureBytes key(kRootKeyFileSize);
  if (EVP_KDF_derive(ctx.get(), key.data(), key.size(), params) != 1) {
    ERR_clear_error();
    return core::Status::kInternal;
  }
  *out = std::move(key);
  return core::Status::kOk;
}

}  // namespace hsmkms::soft
