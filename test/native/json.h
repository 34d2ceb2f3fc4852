// Just enough JSON to read test-vector files (objects, arrays, strings,
// numbers, literals). Test code only: throws std::runtime_error on bad input.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hsmkms::test {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  static Json Parse(const std::string& text) {
    size_t pos = 0;
    Json value = ParseValue(text, pos);
    SkipSpace(text, pos);
    if (pos != text.size()) throw std::runtime_error("json: trailing characters");
    return value;
  }

  [[nodiscard]] Type type() const { return type_; }
  [[nodiscard]] const std::string& str() const { return Expect(Type::kString).string_; }
  [[nodiscard]] double number() const { return Expect(Type::kNumber).number_; }
  [[nodiscard]] const std::vector<Json>& items() const { return Expect(Type::kArray).items_; }
  [[nodiscard]] bool has(const std::string& key) const {
    return Expect(Type::kObject).members_.count(key) != 0;
  }
  [[nodiscard]] const Json& operator[](const std::string& key) const {
    const auto& members = Expect(Type::kObject).members_;
    const auto it = members.find(key);
    if (it == members.end()) throw std::runtime_error("json: no member " + key);
    return it->second;
  }

 private:
  const Json& Expect(Type type) const {
    if (type_ != type) throw std::runtime_error("json: unexpected type");
    return *this;
  }

  static void SkipSpace(const std::string& s, size_t& pos) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t')) {
      ++pos;
    }
  }

  static char Next(const std::string& s, size_t& pos) {
    SkipSpace(s, pos);
    if (pos >= s.size()) throw std::runtime_error("json: unexpected end");
    return s[pos];
  }

  static void Consume(const std::string& s, size_t& pos, const char* literal) {
    for (const char* p = literal; *p != '\0'; ++p, ++pos) {
      if (pos >= s.size() || s[pos] != *p) throw std::runtime_error("json: bad literal");
    }
  }

  static std::string ParseString(const std::string& s, size_t& pos) {
    if (Next(s, pos) != '"') throw std::runtime_error("json: expected string");
    ++pos;
    std::string out;
    while (pos < s.size() && s[pos] != '"') {
      char c = s[pos++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos >= s.size()) break;
      c = s[pos++];
      switch (c) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          if (pos + 4 > s.size()) throw std::runtime_error("json: bad escape");
          const unsigned long code = std::strtoul(s.substr(pos, 4).c_str(), nullptr, 16);
          pos += 4;
          // Test vectors only use ASCII in strings we read; keep it simple.
          out.push_back(code < 0x80 ? static_cast<char>(code) : '?');
          break;
        }
        default: out.push_back(c);  // \" \\ \/
      }
    }
    if (pos >= s.size()) throw std::runtime_error("json: unterminated string");
    ++pos;
    return out;
  }

  static Json ParseValue(const std::string& s, size_t& pos) {
    Json value;
    const char c = Next(s, pos);
    if (c == '{') {
      value.type_ = Type::kObject;
      ++pos;
      if (Next(s, pos) == '}') {
        ++pos;
        return value;
      }
      for (;;) {
        std::string key = ParseString(s, pos);
        if (Next(s, pos) != ':') throw std::runtime_error("json: expected ':'");
        ++pos;
        value.members_.emplace(std::move(key), ParseValue(s, pos));
        const char sep = Next(s, pos);
        ++pos;
        if (sep == '}') return value;
        if (sep != ',') throw std::runtime_error("json: expected ',' or '}'");
      }
    }
    if (c == '[') {
      value.type_ = Type::kArray;
      ++pos;
      if (Next(s, pos) == ']') {
        ++pos;
        return value;
      }
      for (;;) {
        value.items_.push_back(ParseValue(s, pos));
        const char sep = Next(s, pos);
        ++pos;
        if (sep == ']') return value;
        if (sep != ',') throw std::runtime_error("json: expected ',' or ']'");
      }
    }
    if (c == '"') {
      value.type_ = Type::kString;
      value.string_ = ParseString(s, pos);
      return value;
    }
    if (c == 't') {
      Consume(s, pos, "true");
      value.type_ = Type::kBool;
      value.bool_ = true;
      return value;
    }
    if (c == 'f') {
      Consume(s, pos, "false");
      value.type_ = Type::kBool;
      return value;
    }
    if (c == 'n') {
      Consume(s, pos, "null");
      return value;
    }
    char* end = nullptr;
    value.type_ = Type::kNumber;
    value.number_ = std::strtod(s.c_str() + pos, &end);
    if (end == s.c_str() + pos) throw std::runtime_error("json: unexpected character");
    pos = static_cast<size_t>(end - s.c_str());
    return value;
  }

  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::map<std::string, Json> members_;
};

}  // namespace hsmkms::test
