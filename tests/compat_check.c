/* The Windows-style program of compat_check_body.h, compiled as C99: its
 * own #include <winsock2.h> resolves to wsadup through the compatibility
 * include directory (real Winsock on Windows). */
#include "compat_check_body.h"
