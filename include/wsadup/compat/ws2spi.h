/*
 * Compatibility include: a layered provider's own "#include <ws2spi.h>"
 * resolves to wsadup's declarations on POSIX systems (see winsock2.h in this
 * directory for how to opt in). Never put this directory on the path on
 * Windows.
 */
#ifndef WSADUP_COMPAT_WS2SPI_H
#define WSADUP_COMPAT_WS2SPI_H
#include <winsock2.h>
#include <wsadup/ws2spi.h>
#endif /* WSADUP_COMPAT_WS2SPI_H */
