// The Windows backend. Winsock itself provides the Winsock subset, and the
// wsadup_* extras are the shared sources in src/ (version, error names, the
// errno table, the token text codec), so this file holds only what ties the
// two platforms together: compile-time proof that the values and layouts
// which include/wsadup/posix.h copies from Windows are the ones Windows
// really uses. A token's raw bytes, a flag or an error code then mean the
// same thing on both sides, and a mistake in posix.h shows up as a Windows
// build failure rather than as a silent mismatch.
#include "wsadup/wsadup.h"

namespace wsadup::win {
namespace {

// Windows x64's layout (the one posix.h reproduces and asserts). 32-bit
// Windows has the same sizes: the structures hold no pointer.
static_assert(sizeof(WSAPROTOCOL_INFOA) == 372,
              "WSAPROTOCOL_INFOA must be 372 bytes, as in posix.h");
static_assert(sizeof(WSAPROTOCOL_INFOW) == 628,
              "WSAPROTOCOL_INFOW must be 628 bytes, as in posix.h");
static_assert(sizeof(GUID) == 16, "GUID must be 16 bytes");
static_assert(WSAPROTOCOL_LEN == 255 && MAX_PROTOCOL_CHAIN == 7,
              "protocol name and chain lengths differ from posix.h");
#ifdef _WIN64
static_assert(sizeof(WSADATA) == 408, "WSADATA must be 408 bytes on x64");
#endif

// The token text size covers the larger of the two structures.
static_assert(WSADUP_TOKEN_TEXT_SIZE == 2 * sizeof(WSAPROTOCOL_INFOW) + 1,
              "WSADUP_TOKEN_TEXT_SIZE does not fit WSAPROTOCOL_INFOW");

static_assert(FROM_PROTOCOL_INFO == -1, "FROM_PROTOCOL_INFO differs");

// WSASocket flags: posix.h uses Windows' values, and wsadup's own flag must
// stay clear of every bit Winsock defines.
static_assert(WSA_FLAG_OVERLAPPED == 0x01 &&
                  WSA_FLAG_MULTIPOINT_C_ROOT == 0x02 &&
                  WSA_FLAG_MULTIPOINT_C_LEAF == 0x04 &&
                  WSA_FLAG_MULTIPOINT_D_ROOT == 0x08 &&
                  WSA_FLAG_MULTIPOINT_D_LEAF == 0x10,
              "WSA_FLAG_* values differ from posix.h");
#ifdef WSA_FLAG_NO_HANDLE_INHERIT
static_assert(WSA_FLAG_NO_HANDLE_INHERIT == 0x80,
              "WSA_FLAG_NO_HANDLE_INHERIT differs from posix.h");
#endif
static_assert((WSADUP_FLAG_HANDLE_INHERIT & 0x1ffu) == 0,
              "WSADUP_FLAG_HANDLE_INHERIT collides with a WSA_FLAG_* bit");

// The error codes wsadup's POSIX backend reports, with Windows' numbers.
static_assert(WSAEINTR == 10004 && WSAEBADF == 10009 &&
                  WSAEACCES == 10013 && WSAEFAULT == 10014 &&
                  WSAEINVAL == 10022 && WSAEMFILE == 10024 &&
                  WSAEWOULDBLOCK == 10035 && WSAENOTSOCK == 10038 &&
                  WSAEAFNOSUPPORT == 10047 && WSAENETDOWN == 10050 &&
                  WSAENOBUFS == 10055 && WSAETIMEDOUT == 10060 &&
                  WSAECONNREFUSED == 10061 && WSASYSNOTREADY == 10091 &&
                  WSAVERNOTSUPPORTED == 10092 &&
                  WSANOTINITIALISED == 10093 && WSAEPROVIDERFAILEDINIT == 10106,
              "Winsock error codes differ from posix.h");

}  // namespace
}  // namespace wsadup::win

// Windows duplicates a handle into the target without waiting for it, so
// the posted push is what Winsock always does, and Windows has no SIGPIPE:
// both options are accepted and change nothing.
extern "C" int wsadup_set_option(int option, int value) {
  if ((option != WSADUP_OPTION_POSTED_PUSH &&
       option != WSADUP_OPTION_IGNORE_SIGPIPE) ||
      (value != 0 && value != 1)) {
    WSASetLastError(WSAEINVAL);
    return SOCKET_ERROR;
  }
  return 0;
}
