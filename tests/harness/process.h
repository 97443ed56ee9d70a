// The test suite's small process layer: the test binary re-runs itself as a
// named helper (fork/exec on POSIX, CreateProcess on Windows) and talks to it
// over the child's standard input and output, which are pipes.
#ifndef WSADUP_TESTS_HARNESS_PROCESS_H
#define WSADUP_TESTS_HARNESS_PROCESS_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wsadup_test {

// How long any wait on another process may take before the test fails
// loudly. Generous: it only bounds a hang, it is never a measurement.
constexpr int kProcessTimeoutMs = 20000;

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;

  // Starts "<this executable> --wsadup-helper <helper> <arguments...>".
  // Returns nullptr when the process could not be started.
  static std::unique_ptr<ChildProcess> spawn(
      const std::string& helper, const std::vector<std::string>& arguments);

  virtual uint32_t pid() const = 0;
  // Writes to the child's standard input.
  virtual bool write_all(const void* data, size_t size) = 0;
  // Reads exactly size bytes from the child's standard output, waiting at
  // most timeout_ms. False on timeout, end of file or error.
  virtual bool read_exact(void* data, size_t size, int timeout_ms) = 0;
  // Closes the child's standard input: it reads end of file.
  virtual void close_input() = 0;
  // Waits for the child to exit and returns its exit code; kills it and
  // returns -1 when it has not exited within timeout_ms.
  virtual int wait(int timeout_ms) = 0;
  // Kills the child at once (SIGKILL / TerminateProcess) and reaps it.
  virtual void kill() = 0;
};

// Frames: a 4-byte little-endian length, then the bytes.
bool write_frame(ChildProcess& child, const std::string& bytes);
bool read_frame(ChildProcess& child, std::string* bytes,
                int timeout_ms = kProcessTimeoutMs);

// The helper's side: its standard input and output.
bool helper_write_frame(const std::string& bytes);
bool helper_read_frame(std::string* bytes, int timeout_ms = kProcessTimeoutMs);

// Number of descriptors (POSIX) or handles (Windows) this process has open.
size_t open_descriptor_count();

// This process's id, as WSADuplicateSocket wants it.
uint32_t current_pid();

// Helpers: named functions the test binary runs instead of the tests when
// its arguments say so. Register with WSADUP_TEST_HELPER(name).
using HelperFunction = int (*)(const std::vector<std::string>& arguments);
bool register_helper(const char* name, HelperFunction function);
// Runs the helper named on the command line, if any: returns true and sets
// *exit_code when argv asked for one.
bool run_helper_from_command_line(int argc, char** argv, int* exit_code);

// Platform part, implemented once per platform (process_posix.cc,
// process_win.cc): the path of the running executable.
std::string executable_path();

}  // namespace wsadup_test

#define WSADUP_TEST_HELPER(name)                                             \
  static int wsadup_helper_##name(const std::vector<std::string>& arguments); \
  static const bool wsadup_helper_registered_##name =                       \
      ::wsadup_test::register_helper(#name, wsadup_helper_##name);           \
  static int wsadup_helper_##name(                                           \
      [[maybe_unused]] const std::vector<std::string>& arguments)

#endif  // WSADUP_TESTS_HARNESS_PROCESS_H
