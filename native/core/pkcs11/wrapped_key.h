// A CMK version as stored outside the HSM: its material wrapped by a domain
// key, plus what the HSM needs to unwrap it with the right attributes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "algorithms.h"

namespace hsmkms::pkcs11 {

struct WrappedKey {
  // (id, version) names the unwrapped key in the cache: one blob per pair.
  std::string id;
  uint32_t version = 0;
  uint32_t domain_version = 0;  // the domain key "hsmkms:domain:<n>" that wraps it
  KeySpec spec = KeySpec::kAes256;
  KeyUsage usage = KeyUsage::kEncryptDecrypt;
  WrapAlgorithm algorithm = WrapAlgorithm::kAesKwp;
  // RFC 5649 output: 40 bytes for AES-256; private keys are PKCS#8 inside.
  std::vector<uint8_t> blob;
};

}  // namespace hsmkms::pkcs11
