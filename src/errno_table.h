// The one table that maps errno values to Winsock error codes. Both backends
// use it: POSIX for its system calls, Windows for the C runtime's errno.
#ifndef WSADUP_SRC_ERRNO_TABLE_H
#define WSADUP_SRC_ERRNO_TABLE_H

namespace wsadup::detail {

// Returns the Winsock code for errno_value; WSAEINVAL when none is closer.
int translate_errno(int errno_value);

// The errno value that translates to wsa_error (the first row of the table
// that does), or 0 when none does.
int errno_for_wsa_error(int wsa_error);

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_ERRNO_TABLE_H
