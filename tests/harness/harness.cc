// The platform-independent half of the process layer: frames and the helper
// registry.
#include <cstring>
#include <map>

#include "harness/platform.h"
#include "harness/process.h"

namespace wsadup_test {
namespace {

std::map<std::string, HelperFunction>& helpers() {
  static std::map<std::string, HelperFunction> registry;
  return registry;
}

void encode_length(uint32_t length, unsigned char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(length >> (8 * i));
}

uint32_t decode_length(const unsigned char* in) {
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length |= static_cast<uint32_t>(in[i]) << (8 * i);
  return length;
}

// Frames larger than this are a broken peer, not a message.
constexpr uint32_t kMaxFrame = 1u << 20;

}  // namespace

bool register_helper(const char* name, HelperFunction function) {
  helpers()[name] = function;
  return true;
}

bool run_helper_from_command_line(int argc, char** argv, int* exit_code) {
  if (argc < 3 || std::strcmp(argv[1], "--wsadup-helper") != 0) return false;
  auto found = helpers().find(argv[2]);
  if (found == helpers().end()) {
    *exit_code = 127;
    return true;
  }
  std::vector<std::string> arguments(argv + 3, argv + argc);
  *exit_code = found->second(arguments);
  return true;
}

bool write_frame(ChildProcess& child, const std::string& bytes) {
  unsigned char header[4];
  encode_length(static_cast<uint32_t>(bytes.size()), header);
  return child.write_all(header, 4) &&
         (bytes.empty() || child.write_all(bytes.data(), bytes.size()));
}

bool read_frame(ChildProcess& child, std::string* bytes, int timeout_ms) {
  unsigned char header[4];
  if (!child.read_exact(header, 4, timeout_ms)) return false;
  uint32_t length = decode_length(header);
  if (length > kMaxFrame) return false;
  bytes->assign(length, '\0');
  return length == 0 || child.read_exact(&(*bytes)[0], length, timeout_ms);
}

bool helper_write_frame(const std::string& bytes) {
  unsigned char header[4];
  encode_length(static_cast<uint32_t>(bytes.size()), header);
  return helper_write_raw(header, 4) &&
         (bytes.empty() || helper_write_raw(bytes.data(), bytes.size()));
}

bool helper_read_frame(std::string* bytes, int timeout_ms) {
  unsigned char header[4];
  if (!helper_read_raw(header, 4, timeout_ms)) return false;
  uint32_t length = decode_length(header);
  if (length > kMaxFrame) return false;
  bytes->assign(length, '\0');
  return length == 0 || helper_read_raw(&(*bytes)[0], length, timeout_ms);
}

}  // namespace wsadup_test
