// The benchmark driver's child processes, and the one message the driver
// sends them.
#ifndef WSADUP_BENCHMARKS_ROLES_H
#define WSADUP_BENCHMARKS_ROLES_H

#include <cstdint>
#include <string>
#include <vector>

#include "wsadup/wsadup.h"

namespace wsadup_bench {

// Driver -> target, over a pipe, one write and one read each: an operation
// byte and a payload the size of a token ('T'/'D': the token's raw bytes;
// 'W': a uint64 byte count; 'P': nothing, answer only; 'I': a uint32 window in ms; 'M': nothing).
#pragma pack(push, 1)
struct Command {
  char op;
  WSAPROTOCOL_INFOA token;
};
#pragma pack(pop)
static_assert(sizeof(Command) == 1 + 372, "command layout");

// Runs the named child role; returns its exit code.
int run_role(const std::string& role, const std::vector<std::string>& args);

// Sends size bytes through socket_fd and waits for the sink's one-byte
// answer. Returns the elapsed ns, or 0 on failure.
uint64_t data_round(int socket_fd, uint64_t size);

}  // namespace wsadup_bench

#endif  // WSADUP_BENCHMARKS_ROLES_H
