// The soft root's key sources: the 0600 key file (created once, refused when
// exposed) and scrypt derivation from a passphrase.
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "secure_memory.h"
#include "soft/root_key_source.h"
#include "test_support.h"

using hsmkms::core::SecureBytes;
using hsmkms::core::Status;
using hsmkms::soft::DeriveRootKey;
using hsmkms::soft::LoadOrCreateRootKeyFile;

namespace {

std::string TempDir() {
  char pattern[] = "/tmp/hsmkms-rootkey-XXXXXX";
  const char* dir = mkdtemp(pattern);
  REQUIRE(dir != nullptr);
  return dir;
}

}  // namespace

HSMKMS_TEST(CreatesOnceWithMode0600) {
  const std::string path = TempDir() + "/root.key";
  SecureBytes first, second;
  bool created = false;
  REQUIRE_EQ(LoadOrCreateRootKeyFile(path, &created, &first), Status::kOk);
  CHECK(created);
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK_EQ(st.st_mode & 0777, 0600u);
  CHECK_EQ(static_cast<size_t>(st.st_size), size_t{32});
  REQUIRE_EQ(LoadOrCreateRootKeyFile(path, &created, &second), Status::kOk);
  CHECK(!created);
  REQUIRE_EQ(first.size(), second.size());
  CHECK(std::memcmp(first.data(), second.data(), first.size()) == 0);
}

HSMKMS_TEST(RefusesAFileOthersCanRead) {
  const std::string path = TempDir() + "/root.key";
  SecureBytes key;
  bool created = false;
  REQUIRE_EQ(LoadOrCreateRootKeyFile(path, &created, &key), Status::kOk);
  REQUIRE(chmod(path.c_str(), 0640) == 0);
  CHECK_EQ(LoadOrCreateRootKeyFile(path, &created, &key), Status::kInvalidState);
}

HSMKMS_TEST(RefusesSymlinksAndWrongSizes) {
  const std::string dir = TempDir();
  const std::string real = dir + "/real.key", link = dir + "/root.key", short_file = dir + "/short.key";
  SecureBytes key;
  bool created = false;
  REQUIRE_EQ(LoadOrCreateRootKeyFile(real, &created, &key), Status::kOk);
  REQUIRE(symlink(real.c_str(), link.c_str()) == 0);
  CHECK_EQ(LoadOrCreateRootKeyFile(link, &created, &key), Status::kInvalidState);
  { std::ofstream(short_file) << "too short"; }
  REQUIRE(chmod(short_file.c_str(), 0600) == 0);
  CHECK_EQ(LoadOrCreateRootKeyFile(short_file, &created, &key), Status::kInvalidState);
}

// A process killed while creating the key file (here by SIGXFSZ in the
// middle of writing it: a file-size limit of 16 bytes) must not leave a short
// key file behind, which every later open would refuse: the store would
// never open again.
HSMKMS_TEST(KilledMidCreationLeavesNoShortFile) {
  const std::string dir = TempDir();
  const std::string path = dir + "/root.key";
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const struct rlimit no_core = {0, 0}, sixteen_bytes = {16, 16};
    setrlimit(RLIMIT_CORE, &no_core);
    setrlimit(RLIMIT_FSIZE, &sixteen_bytes);
    signal(SIGXFSZ, SIG_DFL);
    SecureBytes key;
    bool created = false;
    (void)LoadOrCreateRootKeyFile(path, &created, &key);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK_EQ(WTERMSIG(status), SIGXFSZ);
  struct stat st;
  if (stat(path.c_str(), &st) == 0) CHECK_EQ(static_cast<size_t>(st.st_size), size_t{32});
  SecureBytes first, second;
  bool created = false;
  REQUIRE_EQ(LoadOrCreateRootKeyFile(path, &created, &first), Status::kOk);
  REQUIRE_EQ(LoadOrCreateRootKeyFile(path, &created, &second), Status::kOk);
  CHECK(std::memcmp(first.data(), second.data(), first.size()) == 0);
}

HSMKMS_TEST(MissingDirectoryIsNotFound) {
  SecureBytes key;
  bool created = false;
  CHECK_EQ(LoadOrCreateRootKeyFile(TempDir() + "/no/such/dir/root.key", &created, &key),
           Status::kNotFound);
}

HSMKMS_TEST(ScryptIsDeterministicPerSaltAndMatchesOpenSsl) {
  const uint8_t pass[] = "correct horse battery staple";
  const uint8_t salt_a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  uint8_t salt_b[16];
  std::memcpy(salt_b, salt_a, 16);
  salt_b[15] ^= 1;
  SecureBytes a1, a2, b;
  REQUIRE_EQ(DeriveRootKey(pass, sizeof(pass) - 1, salt_a, 16, &a1), Status::kOk);
  REQUIRE_EQ(DeriveRootKey(pass, sizeof(pass) - 1, salt_a, 16, &a2), Status::kOk);
  REQUIRE_EQ(DeriveRootKey(pass, sizeof(pass) - 1, salt_b, 16, &b), Status::kOk);
  CHECK(std::memcmp(a1.data(), a2.data(), 32) == 0);
  CHECK(std::memcmp(a1.data(), b.data(), 32) != 0);
  // The same parameters through OpenSSL's other scrypt entry point.
  uint8_t expected[32];
  REQUIRE(EVP_PBE_scrypt(reinterpret_cast<const char*>(pass), sizeof(pass) - 1, salt_a, 16,
                         uint64_t{1} << 15, 8, 1, 64u << 20, expected, 32) == 1);
  CHECK(std::memcmp(a1.data(), expected, 32) == 0);
}

HSMKMS_TEST(ScryptRefusesEmptyPassphraseAndShortSalt) {
  const uint8_t salt[16] = {};
  SecureBytes key;
  CHECK_EQ(DeriveRootKey(reinterpret_cast<const uint8_t*>("x"), 0, salt, 16, &key), Status::kValidation);
  CHECK_EQ(DeriveRootKey(reinterpret_cast<const uint8_t*>("x"), 1, salt, 15, &key), Status::kValidation);
}
