// Event objects and the wait on them: WSACreateEvent makes a manual-reset
// event that starts non-signalled, WSASetEvent and WSAResetEvent change it,
// WSACloseEvent ends it ("further references to this handle will fail with
// the error WSA_INVALID_HANDLE"), and WSAWaitForMultipleEvents returns the
// lowest signalled index, or when all are signalled, or on timeout, with
// WSA_INVALID_PARAMETER for a count outside 1..WSA_MAXIMUM_WAIT_EVENTS.
#include <cstdio>
#include <thread>
#include <vector>

#include "support.h"

namespace wsadup_test {
namespace {

using EventObjects = ConformanceTest;
using EventWait = ConformanceTest;

// Long enough to show that a wait that should return does; short enough
// that a wait that should not is a small cost.
constexpr DWORD kSignalledMs = 5000;
constexpr DWORD kQuietMs = 200;

DWORD wait_one(WSAEVENT event, DWORD timeout_ms) {
  return WSAWaitForMultipleEvents(1, &event, FALSE, timeout_ms, FALSE);
}

TEST_F(EventObjects, ANewEventIsNonSignalledAndStaysSetUntilReset) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT) << WSAGetLastError();
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_TIMEOUT);
  EXPECT_TRUE(WSASetEvent(event));
  // Manual reset: waiting does not consume the signal.
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_EVENT_0);
  EXPECT_EQ(wait_one(event, kSignalledMs), WSA_WAIT_EVENT_0);
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_EVENT_0);
  EXPECT_TRUE(WSASetEvent(event));  // setting a set event changes nothing
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_EVENT_0);
  EXPECT_TRUE(WSAResetEvent(event));
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_TIMEOUT);
  EXPECT_TRUE(WSAResetEvent(event));
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_TIMEOUT);
  EXPECT_TRUE(WSACloseEvent(event));
}

TEST_F(EventObjects, AClosedEventIsWSA_INVALID_HANDLEToEveryCall) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT) << WSAGetLastError();
  ASSERT_TRUE(WSACloseEvent(event));
  WSASetLastError(0);
  EXPECT_FALSE(WSASetEvent(event));
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  WSASetLastError(0);
  EXPECT_FALSE(WSAResetEvent(event));
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  WSASetLastError(0);
  EXPECT_EQ(wait_one(event, 0), WSA_WAIT_FAILED);
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  WSASetLastError(0);
  EXPECT_FALSE(WSACloseEvent(event));
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
}

TEST_F(EventObjects, WSA_INVALID_EVENTIsWSA_INVALID_HANDLEToEveryCall) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSASetLastError(0);
  EXPECT_FALSE(WSASetEvent(WSA_INVALID_EVENT));
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  WSASetLastError(0);
  EXPECT_FALSE(WSAResetEvent(WSA_INVALID_EVENT));
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  WSASetLastError(0);
  EXPECT_FALSE(WSACloseEvent(WSA_INVALID_EVENT));
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
}

// WSACreateEvent, WSASetEvent, WSAResetEvent, WSACloseEvent and
// WSAWaitForMultipleEvents each list WSANOTINITIALISED: "A successful
// WSAStartup call must occur before using this function."
TEST_F(EventObjects, EveryEventCallBeforeWSAStartupIsWSANOTINITIALISED) {
  WSASetLastError(0);
  WSAEVENT event = WSACreateEvent();
  if (running_under_wine() && event != WSA_INVALID_EVENT) {
    std::printf(
        "[ WINE SKIP ] Wine's event calls work without WSAStartup "
        "(they are the kernel's event calls; docs/conformance.md W13)\n");
    EXPECT_TRUE(WSACloseEvent(event));
    return;
  }
  EXPECT_EQ(event, WSA_INVALID_EVENT);
  EXPECT_EQ(WSAGetLastError(), WSANOTINITIALISED);
  if (event != WSA_INVALID_EVENT) WSACloseEvent(event);
  WSASetLastError(0);
  EXPECT_FALSE(WSASetEvent(WSA_INVALID_EVENT));
  EXPECT_EQ(WSAGetLastError(), WSANOTINITIALISED);
  WSASetLastError(0);
  EXPECT_FALSE(WSAResetEvent(WSA_INVALID_EVENT));
  EXPECT_EQ(WSAGetLastError(), WSANOTINITIALISED);
  WSASetLastError(0);
  EXPECT_FALSE(WSACloseEvent(WSA_INVALID_EVENT));
  EXPECT_EQ(WSAGetLastError(), WSANOTINITIALISED);
  WSAEVENT none = WSA_INVALID_EVENT;
  WSASetLastError(0);
  EXPECT_EQ(WSAWaitForMultipleEvents(1, &none, FALSE, 0, FALSE),
            WSA_WAIT_FAILED);
  EXPECT_EQ(WSAGetLastError(), WSANOTINITIALISED);
}

TEST_F(EventWait, ResultsHaveWindowsValues) {
  EXPECT_EQ(WSA_WAIT_EVENT_0, 0u);
  EXPECT_EQ(WSA_WAIT_IO_COMPLETION, 0xC0u);
  EXPECT_EQ(WSA_WAIT_TIMEOUT, 258u);
  EXPECT_EQ(WSA_WAIT_FAILED, 0xFFFFFFFFu);
  EXPECT_EQ(WSA_INFINITE, 0xFFFFFFFFu);
  EXPECT_EQ(WSA_MAXIMUM_WAIT_EVENTS, 64);
  EXPECT_EQ(WSA_INVALID_HANDLE, 6);
  EXPECT_EQ(WSA_INVALID_PARAMETER, 87);
}

TEST_F(EventWait, ZeroOrMoreThanSixtyFourEventsIsWSA_INVALID_PARAMETER) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT) << WSAGetLastError();
  ASSERT_TRUE(WSASetEvent(event));
  // The same (signalled) handle in every entry: only the count is wrong.
  std::vector<WSAEVENT> events(WSA_MAXIMUM_WAIT_EVENTS + 1, event);
  WSASetLastError(0);
  EXPECT_EQ(WSAWaitForMultipleEvents(0, events.data(), FALSE, 0, FALSE),
            WSA_WAIT_FAILED);
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_PARAMETER);
  WSASetLastError(0);
  EXPECT_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS + 1, events.data(),
                                     FALSE, 0, FALSE),
            WSA_WAIT_FAILED);
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_PARAMETER);
  // Sixty-four is allowed.
  EXPECT_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS, events.data(),
                                     FALSE, 0, FALSE),
            WSA_WAIT_EVENT_0);
  EXPECT_TRUE(WSACloseEvent(event));
}

TEST_F(EventWait, TimeoutZeroWithNothingSignalledIsWSA_WAIT_TIMEOUT) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT events[2] = {WSACreateEvent(), WSACreateEvent()};
  ASSERT_NE(events[0], WSA_INVALID_EVENT) << WSAGetLastError();
  ASSERT_NE(events[1], WSA_INVALID_EVENT) << WSAGetLastError();
  EXPECT_EQ(WSAWaitForMultipleEvents(2, events, FALSE, 0, FALSE),
            WSA_WAIT_TIMEOUT);
  EXPECT_EQ(WSAWaitForMultipleEvents(2, events, TRUE, 0, FALSE),
            WSA_WAIT_TIMEOUT);
  EXPECT_EQ(WSAWaitForMultipleEvents(2, events, FALSE, kQuietMs, FALSE),
            WSA_WAIT_TIMEOUT);
  EXPECT_TRUE(WSACloseEvent(events[0]));
  EXPECT_TRUE(WSACloseEvent(events[1]));
}

TEST_F(EventWait, WithSeveralSignalledItReturnsTheLowestIndex) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT events[3];
  for (WSAEVENT& event : events) {
    event = WSACreateEvent();
    ASSERT_NE(event, WSA_INVALID_EVENT) << WSAGetLastError();
  }
  ASSERT_TRUE(WSASetEvent(events[2]));
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, FALSE, 0, FALSE),
            WSA_WAIT_EVENT_0 + 2);
  ASSERT_TRUE(WSASetEvent(events[1]));
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, FALSE, 0, FALSE),
            WSA_WAIT_EVENT_0 + 1);
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, FALSE, kSignalledMs, FALSE),
            WSA_WAIT_EVENT_0 + 1);
  ASSERT_TRUE(WSASetEvent(events[0]));
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, FALSE, 0, FALSE),
            WSA_WAIT_EVENT_0);
  for (WSAEVENT event : events) EXPECT_TRUE(WSACloseEvent(event));
}

TEST_F(EventWait, WaitAllTimesOutWhileOneIsUnsetAndReturnsOnceAllAreSet) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT events[3];
  for (WSAEVENT& event : events) {
    event = WSACreateEvent();
    ASSERT_NE(event, WSA_INVALID_EVENT) << WSAGetLastError();
  }
  ASSERT_TRUE(WSASetEvent(events[0]));
  ASSERT_TRUE(WSASetEvent(events[2]));
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, TRUE, 0, FALSE),
            WSA_WAIT_TIMEOUT);
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, TRUE, kQuietMs, FALSE),
            WSA_WAIT_TIMEOUT);
  ASSERT_TRUE(WSASetEvent(events[1]));
  EXPECT_EQ(WSAWaitForMultipleEvents(3, events, TRUE, kSignalledMs, FALSE),
            WSA_WAIT_EVENT_0);
  // Manual reset: the wait for all left every one signalled.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(wait_one(events[i], 0), WSA_WAIT_EVENT_0) << "event " << i;
  }
  for (WSAEVENT event : events) EXPECT_TRUE(WSACloseEvent(event));
}

TEST_F(EventWait, AnInfiniteWaitReturnsWhenAnotherThreadSetsTheEvent) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAEVENT awaited = WSACreateEvent();
  WSAEVENT returned = WSACreateEvent();
  ASSERT_NE(awaited, WSA_INVALID_EVENT) << WSAGetLastError();
  ASSERT_NE(returned, WSA_INVALID_EVENT) << WSAGetLastError();
  DWORD result = WSA_WAIT_FAILED;
  std::thread waiter([&] {
    result = wait_one(awaited, WSA_INFINITE);
    WSASetEvent(returned);
  });
  // The waiter stays blocked while the event is not set...
  EXPECT_EQ(wait_one(returned, kQuietMs), WSA_WAIT_TIMEOUT);
  // ...and returns once this thread sets it.
  EXPECT_TRUE(WSASetEvent(awaited));
  EXPECT_EQ(wait_one(returned, kSignalledMs), WSA_WAIT_EVENT_0);
  waiter.join();
  EXPECT_EQ(result, WSA_WAIT_EVENT_0);
  EXPECT_TRUE(WSACloseEvent(awaited));
  EXPECT_TRUE(WSACloseEvent(returned));
}

TEST_F(EventWait, AnInvalidHandleAmongTheEventsIsWSA_INVALID_HANDLE) {
  Session session;
  ASSERT_TRUE(session.ok());
  // The open event first: a handle made after the close could take the
  // closed one's value again.
  WSAEVENT signalled = WSACreateEvent();
  ASSERT_NE(signalled, WSA_INVALID_EVENT) << WSAGetLastError();
  ASSERT_TRUE(WSASetEvent(signalled));
  WSAEVENT closed = WSACreateEvent();
  ASSERT_NE(closed, WSA_INVALID_EVENT) << WSAGetLastError();
  ASSERT_TRUE(WSACloseEvent(closed));
  WSAEVENT with_closed[2] = {signalled, closed};
  WSASetLastError(0);
  EXPECT_EQ(WSAWaitForMultipleEvents(2, with_closed, FALSE, 0, FALSE),
            WSA_WAIT_FAILED);
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  WSAEVENT with_invalid[2] = {signalled, WSA_INVALID_EVENT};
  WSASetLastError(0);
  EXPECT_EQ(WSAWaitForMultipleEvents(2, with_invalid, FALSE, 0, FALSE),
            WSA_WAIT_FAILED);
  EXPECT_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
  EXPECT_TRUE(WSACloseEvent(signalled));
}

}  // namespace
}  // namespace wsadup_test
