// The one table that maps errno values to Winsock error codes. Both backends
// use it: POSIX for its system calls, Windows for the C runtime's errno.
#ifndef WSADUP_SRC_ERRNO_TABLE_H
#define WSADUP_SRC_ERRNO_TABLE_H

namespace wsadup::detail {

// Returns the Winsock code for errno_value; WSAEINVAL when none is closer.
int translate_errno(int errno_value);

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_ERRNO_TABLE_H
