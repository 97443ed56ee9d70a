// The rendezvous wire as a raw client speaks it: the tests that play a
// hostile or vanishing peer build messages by hand, never through the
// library's internals, so they test what the agent does with what arrives.
// POSIX only.
#ifndef WSADUP_TESTS_RAW_WIRE_H
#define WSADUP_TESTS_RAW_WIRE_H

#include <cstdint>
#include <string>

namespace wsadup_test {

// Message types (src/posix/internal.h, MessageType).
constexpr uint16_t kRawPush = 1;
constexpr uint16_t kRawPull = 2;
constexpr uint16_t kRawReply = 3;
constexpr uint16_t kRawCommit = 4;

// One message, well formed unless a test changes it (docs/design.md).
struct RawMessage {
  uint32_t magic = 0x55445357;
  uint16_t version = 1;
  uint16_t type = kRawPush;
  uint32_t length = 40;
  uint32_t status = 0;
  uint8_t nonce[16] = {};
  uint32_t source_pid = 0;
  uint32_t reserved = 0;
};
static_assert(sizeof(RawMessage) == 40, "wire layout");

// A SOCK_SEQPACKET connection to the agent listening at path, or -1 (with
// *error = errno when error is given).
int connect_raw(const std::string& path, int* error = nullptr);

}  // namespace wsadup_test

#endif  // WSADUP_TESTS_RAW_WIRE_H
