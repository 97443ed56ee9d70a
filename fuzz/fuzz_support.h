// What the fuzz targets share: a loud failure for a broken invariant, the
// input's packet format, descriptor accounting, and a private rendezvous
// directory. POSIX only, like the backend the targets exercise.
#ifndef WSADUP_FUZZ_SUPPORT_H
#define WSADUP_FUZZ_SUPPORT_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wsadup_fuzz {

// Prints what broke and aborts: libFuzzer records the input as a crash, and
// the corpus replay test fails.
[[noreturn]] void fail(const char* file, int line, const char* what);

#define FUZZ_CHECK(condition)                              \
  do {                                                     \
    if (!(condition)) {                                    \
      ::wsadup_fuzz::fail(__FILE__, __LINE__, #condition); \
    }                                                      \
  } while (false)

// One message a target sends, as the input describes it. The input is a
// sequence of [control][length][length bytes of payload]:
//   control bits 0-1: descriptors attached with SCM_RIGHTS: 0, 1, 2 or 5
//                     (5 is more than the receiver has room for: the kernel
//                     truncates the control data);
//   control bits 2-7: flags, each target's own (see each target);
//   length:           payload bytes, 0..255, cut short by the input's end.
struct Packet {
  std::vector<uint8_t> payload;
  int descriptors = 0;
  uint8_t flags = 0;
};

std::vector<Packet> split_packets(const uint8_t* data, size_t size,
                                  size_t max_packets);

// Sends packet's payload as one message with descriptor attached
// packet.descriptors times. Returns 0 or an errno value.
int send_packet(int connection, const Packet& packet, int descriptor);

// One message as an outside observer reads it: its bytes and how many
// descriptors came with it (all closed here), or the end of the stream.
struct Observed {
  bool closed = false;  // end of stream, or reset by the peer
  std::vector<uint8_t> bytes;
  int descriptors = 0;
  bool descriptors_close_on_exec = true;
};

// Waits up to timeout_ms for one message on connection. False on timeout.
bool observe(int connection, int timeout_ms, Observed* observed);

// True when fd becomes readable (data, end of stream or an error) within
// timeout_ms.
bool wait_readable(int fd, int timeout_ms);

// Every descriptor open in this process, counted in /proc/self/fd.
size_t open_descriptor_count();

// The number the next open() would get: a descriptor left open shows up as
// a change of it.
int lowest_free_descriptor();

// Creates a fresh private directory (mode 0700) and points
// WSADUP_RUNTIME_DIR at it, so a target's agent and listeners never touch
// the user's real rendezvous directory. Returns the path.
std::string use_private_runtime_directory();

// The rendezvous socket name of process pid in directory.
std::string rendezvous_name(const std::string& directory, int pid);

// A connected SOCK_SEQPACKET client of the socket at path, or -1.
int connect_seqpacket(const std::string& path);

// How long any wait in a target may take before it counts as a hang. Far
// above a real round trip on a loaded machine, far below libFuzzer's
// -timeout in .ci/fuzz.sh.
constexpr int kWaitMs = 5000;

}  // namespace wsadup_fuzz

#endif  // WSADUP_FUZZ_SUPPORT_H
