// Private declarations shared by the calls around a handoff:
//   socket_kind.cc      what a descriptor is (family, type), address sizes
//   socket_io.cc        WSARecv, WSASend and their From/To forms; the Windows
//                       forms of recv, send, recvfrom, sendto
//   socket_control.cc   ioctlsocket and WSAIoctl
//   socket_options.cc   the Windows forms of getsockopt and setsockopt
//   connect_accept.cc   WSAConnect, WSAAccept (and its deferred connections),
//                       the Windows forms of accept, getsockname, getpeername
//   poll_select.cc      WSAPoll and the Windows form of select
//   win32_handles.cc    SetHandleInformation, GetHandleInformation,
//                       GetCurrentProcessId
#ifndef WSADUP_SRC_POSIX_SOCKET_CALLS_H
#define WSADUP_SRC_POSIX_SOCKET_CALLS_H

#include <sys/socket.h>

#include <cstdint>

#include "wsadup/wsadup.h"

namespace wsadup::detail {

// The family, type and protocol of s; false when s is not an open socket.
bool socket_kind(int s, int* family, int* type, int* protocol);

// The TCP state of s (tcpi_state: TCP_ESTABLISHED, ...), or 0 for a socket
// that is not TCP.
uint8_t tcp_state(int s);

// True when s is an open socket.
bool is_socket(int s);

// Size of the address structure of s's family (sockaddr_in for AF_INET, ...):
// what Windows requires an address buffer to hold. 0 when s is no socket.
int address_size_of(int s);

// Copies an address the kernel returned into the caller's buffer of
// *length bytes: WSAEFAULT (and nothing copied) when it does not fit, as
// Windows refuses a short buffer instead of truncating.
int copy_address_out(const sockaddr_storage& address, socklen_t address_length,
                     sockaddr* out, int* length);

// A connection WSAAccept's condition deferred on listener, offered again by
// the next WSAAccept or accept on it. Returns it (and forgets it), or -1.
int take_deferred_connection(int listener);
// True when a connection deferred on listener waits: WSAPoll and select
// report the listener readable then, as Windows leaves a deferred connection
// in the listener's queue.
bool has_deferred_connection(int listener);
// closesocket(listener): closes a connection deferred on it.
void forget_deferred_connection(int listener);
// The last WSACleanup: closes every deferred connection.
void close_deferred_connections();

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_SOCKET_CALLS_H
