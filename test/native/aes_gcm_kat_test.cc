// Known answers: Wycheproof's AES-GCM vectors for 256-bit keys, 96-bit IVs
// and 128-bit tags (the only parameters AesGcmKey supports), read from
// ../shared/vectors at test time.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "aes_gcm_key.h"
#include "json.h"
#include "test_support.h"

using hsmkms::core::AesGcmKey;
using hsmkms::core::Status;
using hsmkms::test::FromHex;
using hsmkms::test::Json;
using hsmkms::test::ToHex;

namespace {

struct Vector {
  int id;
  std::string comment;
  std::vector<uint8_t> key, iv, aad, msg, ct, tag;
  bool valid;
};

std::vector<Vector> LoadVectors() {
  const std::string path = std::string(HSMKMS_VECTORS_DIR) + "/wycheproof/aes_gcm_test.json";
  const Json root = Json::Parse(hsmkms::test::ReadFile(path));
  std::vector<Vector> out;
  for (const Json& group : root["testGroups"].items()) {
    if (group["keySize"].number() != 256 || group["ivSize"].number() != 96 ||
        group["tagSize"].number() != 128) {
      continue;
    }
    for (const Json& t : group["tests"].items()) {
      out.push_back({static_cast<int>(t["tcId"].number()), t["comment"].str(),
                     FromHex(t["key"].str()), FromHex(t["iv"].str()), FromHex(t["aad"].str()),
                     FromHex(t["msg"].str()), FromHex(t["ct"].str()), FromHex(t["tag"].str()),
                     t["result"].str() == "valid"});
    }
  }
  return out;
}

std::vector<Vector> Select(bool valid) {
  std::vector<Vector> all = LoadVectors();
  all.erase(std::remove_if(all.begin(), all.end(), [&](const Vector& v) { return v.valid != valid; }),
            all.end());
  return all;
}

std::shared_ptr<AesGcmKey> KeyOf(const Vector& v) {
  std::shared_ptr<AesGcmKey> key;
  REQUIRE_EQ(AesGcmKey::Import(v.key.data(), v.key.size(), &key), Status::kOk);
  return key;
}

std::vector<uint8_t> Sealed(const Vector& v) {
  std::vector<uint8_t> sealed(v.iv);
  sealed.insert(sealed.end(), v.ct.begin(), v.ct.end());
  sealed.insert(sealed.end(), v.tag.begin(), v.tag.end());
  return sealed;
}

void Note(const Vector& v, const char* what) {
  hsmkms::test::RecordFailure(__FILE__, __LINE__,
                              "tcId " + std::to_string(v.id) + " (" + v.comment + "): " + what);
}

}  // namespace

HSMKMS_TEST(VectorsArePresent) {
  // Guards against a vacuous pass if the file or its layout changes.
  CHECK(Select(true).size() >= 30);
  CHECK(Select(false).size() >= 20);
}

HSMKMS_TEST(SealMatchesValidVectors) {
  for (const Vector& v : Select(true)) {
    auto key = KeyOf(v);
    std::vector<uint8_t> out(v.msg.size() + AesGcmKey::kOverhead);
    if (key->Seal(v.iv.data(), v.msg.data(), v.msg.size(), v.aad.data(), v.aad.size(),
                  out.data()) != Status::kOk) {
      Note(v, "seal failed");
    } else if (out != Sealed(v)) {
      Note(v, ("sealed " + ToHex(out) + ", expected " + ToHex(Sealed(v))).c_str());
    }
  }
}

HSMKMS_TEST(OpenRecoversValidVectors) {
  for (const Vector& v : Select(true)) {
    auto key = KeyOf(v);
    const std::vector<uint8_t> sealed = Sealed(v);
    std::vector<uint8_t> out(v.msg.size());
    if (key->Open(sealed.data(), sealed.size(), v.aad.data(), v.aad.size(), out.data()) !=
        Status::kOk) {
      Note(v, "open failed");
    } else if (out != v.msg) {
      Note(v, "wrong plaintext");
    }
  }
}

HSMKMS_TEST(OpenRejectsInvalidVectors) {
  for (const Vector& v : Select(false)) {
    auto key = KeyOf(v);
    const std::vector<uint8_t> sealed = Sealed(v);
    const size_t len = std::max(sealed.size(), AesGcmKey::kOverhead) - AesGcmKey::kOverhead;
    std::vector<uint8_t> out(len, 0xAA);
    if (key->Open(sealed.data(), sealed.size(), v.aad.data(), v.aad.size(), out.data()) !=
        Status::kInvalidCiphertext) {
      Note(v, "accepted");
    } else if (!std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; })) {
      Note(v, "output not wiped");
    }
  }
}
