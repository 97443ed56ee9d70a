/*
 * Compatibility include: lets ported code keep its own
 * "#include <winsock2.h>" on POSIX systems. Opt in by linking the CMake
 * target wsadup::compat, or by adding <prefix>/include/wsadup/compat to the
 * include path. Never put this directory on the path on Windows.
 */
#ifndef WSADUP_COMPAT_WINSOCK2_H
#define WSADUP_COMPAT_WINSOCK2_H
#include <wsadup/wsadup.h>
#endif
