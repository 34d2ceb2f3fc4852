#include "pkcs11_fixture.h"

#include <dlfcn.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "test_support.h"
#include "worker_pool.h"

extern char** environ;

namespace hsmkms::test {
namespace {

std::string token_dir;

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

void RemoveTokenDir() {
  if (!token_dir.empty()) nftw(token_dir.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

// Runs argv and returns its stdout (REQUIRE-s exit status 0).
std::string Run(std::vector<std::string> args) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  std::string out;
  char buffer[256];
  ssize_t n;
  while (spawned == 0 && (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) out.append(buffer, n);
  close(pipe_fds[0]);
  REQUIRE(spawned == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return out;
}

class FunctionTask : public core::Task {
 public:
  explicit FunctionTask(const std::function<void()>& fn) : fn_(fn) {}
  void Run() noexcept override {
    try {
      fn_();
    } catch (...) {
      failed_ = true;  // a REQUIRE failed on the HSM thread (already reported)
    }
  }
  void Finish() noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return done_; });
    return !failed_ && !cancelled();
  }

 private:
  const std::function<void()>& fn_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  bool failed_ = false;
};

}  // namespace

void EnsureToken() {
  if (!token_dir.empty()) return;
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/hsmkms-p11-XXXXXX";
  REQUIRE(mkdtemp(templ.data()) != nullptr);
  token_dir = templ;
  std::atexit(RemoveTokenDir);
  std::string conf = Run({"bash", std::string(HSMKMS_SOURCE_DIR) + "/scripts/make-softhsm-token.sh",
                          token_dir, kTokenLabel, kSoPin, kUserPin});
  while (!conf.empty() && (conf.back() == '\n' || conf.back() == '\r')) conf.pop_back();
  REQUIRE(!conf.empty());
  REQUIRE(setenv("SOFTHSM2_CONF", conf.c_str(), 1) == 0);
}

std::string SoftHsmPath() {
  const char* env = std::getenv("HSMKMS_SOFTHSM_MODULE");
  return env != nullptr ? env : "/usr/lib/softhsm/libsofthsm2.so";
}

std::string ShimPath() { return HSMKMS_SHIM_PATH; }

core::SecureBytes Pin(const std::string& pin) {
  core::SecureBytes bytes(pin.size());
  std::memcpy(bytes.data(), pin.data(), pin.size());
  return bytes;
}

pkcs11::HsmConfig Config(const std::string& module_path) {
  EnsureToken();
  pkcs11::HsmConfig config;
  config.module_path = module_path;
  config.token_label = kTokenLabel;
  return config;
}

std::shared_ptr<pkcs11::Hsm> OpenHsm(const pkcs11::HsmConfig& config) {
  std::shared_ptr<pkcs11::Hsm> hsm;
  const pkcs11::HsmResult result = pkcs11::Hsm::Open(config, Pin(kUserPin), &hsm);
  REQUIRE_OK(result);
  return hsm;
}

namespace {
void* ShimSymbol(const char* name) {
  void* handle = dlopen(ShimPath().c_str(), RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(handle != nullptr);  // loaded by an Hsm opened on the shim
  void* symbol = dlsym(handle, name);
  dlclose(handle);  // drops only the reference RTLD_NOLOAD took
  REQUIRE(symbol != nullptr);
  return symbol;
}
}  // namespace

void Shim(const std::string& commands) {
  auto control = reinterpret_cast<int (*)(const char*)>(ShimSymbol("hsmkms_shim_control"));
  REQUIRE(control(commands.c_str()) == 0);
}

unsigned long ShimCalls(const std::string& fn) {
  auto calls = reinterpret_cast<unsigned long (*)(const char*)>(ShimSymbol("hsmkms_shim_calls"));
  return calls(fn.c_str());
}

unsigned long ShimSessions() {
  auto sessions = reinterpret_cast<unsigned long (*)()>(ShimSymbol("hsmkms_shim_sessions"));
  return sessions();
}

void OnHsmThread(const std::function<void()>& fn) {
  FunctionTask task(fn);
  pkcs11::Hsm::Threads().Submit(&task);
  if (!task.Wait()) throw FatalFailure{};
}

pkcs11::WrappedKey NewAesKey(pkcs11::Hsm& hsm, uint32_t domain_version, const std::string& id) {
  std::vector<uint8_t> dk_id;
  const pkcs11::HsmResult found = hsm.FindDomainKey(domain_version, &dk_id);
  if (found.status == core::Status::kNotFound) {
    REQUIRE(hsm.CreateDomainKey(domain_version, &dk_id).ok());
  } else {
    REQUIRE(found.ok());
  }
  pkcs11::WrappedKey key;
  REQUIRE_OK(hsm.GenerateKey(pkcs11::KeySpec::kAes256, pkcs11::KeyUsage::kEncryptDecrypt,
                             domain_version, &key, nullptr));
  key.id = id;
  key.version = 1;
  return key;
}

std::string Describe(const pkcs11::HsmResult& result) {
  std::string text = core::StatusCode(result.status);
  if (result.ckr() != nullptr) text += std::string(" ") + result.ckr();
  if (result.fn != nullptr) text += std::string(" ") + result.fn;
  if (result.detail != nullptr) text += std::string(" (") + result.detail + ")";
  return text;
}

std::vector<uint8_t> Bytes(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

}  // namespace hsmkms::test
