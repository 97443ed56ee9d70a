// Platform parts of the test harness, implemented in process_posix.cc and
// process_win.cc.
#ifndef WSADUP_TESTS_HARNESS_PLATFORM_H
#define WSADUP_TESTS_HARNESS_PLATFORM_H

#include <cstddef>

namespace wsadup_test {

// The helper's raw standard output / input.
bool helper_write_raw(const void* data, size_t size);
bool helper_read_raw(void* data, size_t size, int timeout_ms);

// True when the suite runs under Wine (ntdll exports wine_get_version).
// Always false on POSIX.
bool running_under_wine();

}  // namespace wsadup_test

#endif  // WSADUP_TESTS_HARNESS_PLATFORM_H
