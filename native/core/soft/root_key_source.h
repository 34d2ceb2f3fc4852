// Where the soft root's 32-byte root key comes from, read or made straight
// into locked memory (it never passes through JavaScript):
//   - a key file: 32 random bytes, created on first use with O_EXCL and mode
//     0600; refused when group or others can read it, or it is a symlink;
//   - a passphrase: scrypt (N=2^15, r=8, p=1) over the passphrase and a
//     per-installation salt, through OpenSSL's KDF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "../secure_memory.h"
#include "../status.h"

namespace hsmkms::soft {

constexpr size_t kRootKeyFileSize = 32;

// Reads the key file, or creates it (and its fsync'ed directory entry) when
// absent. kInvalidState: wrong size, a symlink, or readable by group/others;
// kNotFound: the directory does not exist; kInternal: other I/O errors.
[[nodiscard]] core::Status LoadOrCreateRootKeyFile(const std::string& path, bool* created,
                                                   core::SecureBytes* out);

// scrypt(passphrase, salt) -> 32 bytes. kValidation for an empty passphrase
// or a salt shorter than 16 bytes.
[[nodiscard]] core::Status DeriveRootKey(const uint8_t* passphrase, size_t passphrase_len,
                                         const uint8_t* salt, size_t salt_len,
                                         core::SecureBytes* out);

}  // namespace hsmkms::soft
