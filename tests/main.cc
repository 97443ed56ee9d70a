// The conformance suite's entry point: run a helper when the command line
// names one (the suite re-running itself as another process), else the
// tests.
#include <gtest/gtest.h>

#if !defined(_WIN32)
#include <signal.h>
#endif

#include "harness/process.h"
#include "support.h"

int main(int argc, char** argv) {
#if !defined(_WIN32)
  // A peer that died must fail the test that talks to it (a write error the
  // harness reports), not kill the whole suite with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
#endif
  // Start and stop once before anything counts descriptors, so that what the
  // C library opens on first use and keeps is there already, and each test
  // (and each helper) measures only itself.
  wsadup_test::warm_up_once();
  int exit_code = 0;
  if (wsadup_test::run_helper_from_command_line(argc, argv, &exit_code)) {
    return exit_code;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
