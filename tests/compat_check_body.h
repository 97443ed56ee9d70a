/*
 * A Winsock program written the way Windows code is written: its own
 * #include <winsock2.h>, <ws2tcpip.h> and <mstcpip.h>, (HANDLE) casts, char*
 * option values, int lengths, u_long, FAR and the rest. compat_check.c
 * compiles it as C99 and compat_check.cc as C++17, so both languages build
 * the same text. On POSIX systems the includes resolve to wsadup through the
 * compatibility directory (wsadup::compat); on Windows they are the real
 * Winsock headers, which checks the program's own expectations against
 * Winsock itself.
 *
 * It runs a small scenario over loopback: a listener, connections accepted
 * with a condition function, data both ways through the plain and the WSA*
 * calls, socket options, a UDP exchange, and a socket duplicated to this
 * process and imported again. Each result is checked; the first failed check
 * is named on stderr and the program exits with 1.
 */
/* Winsock's order: <winsock2.h> first, the headers that build on it after. */
/* clang-format off */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

/* The name of a Winsock error code, for the failure messages. A switch over
 * the codes, as ported servers write one (PostgreSQL's
 * TranslateSocketError, for instance): it only compiles if every code has a
 * value of its own. */
static const char* socket_error_name(int code) {
#define COMPAT_CHECK_ERROR_NAME(name) \
  case name:                          \
    return #name;
  switch (code) {
    case 0:
      return "no error";
      COMPAT_CHECK_ERROR_NAME(WSA_INVALID_HANDLE)
      COMPAT_CHECK_ERROR_NAME(WSA_INVALID_PARAMETER)
      COMPAT_CHECK_ERROR_NAME(WSA_IO_INCOMPLETE)
      COMPAT_CHECK_ERROR_NAME(WSA_IO_PENDING)
      COMPAT_CHECK_ERROR_NAME(WSAEINTR)
      COMPAT_CHECK_ERROR_NAME(WSAEBADF)
      COMPAT_CHECK_ERROR_NAME(WSAEACCES)
      COMPAT_CHECK_ERROR_NAME(WSAEFAULT)
      COMPAT_CHECK_ERROR_NAME(WSAEINVAL)
      COMPAT_CHECK_ERROR_NAME(WSAEMFILE)
      COMPAT_CHECK_ERROR_NAME(WSAEWOULDBLOCK)
      COMPAT_CHECK_ERROR_NAME(WSAEINPROGRESS)
      COMPAT_CHECK_ERROR_NAME(WSAEALREADY)
      COMPAT_CHECK_ERROR_NAME(WSAENOTSOCK)
      COMPAT_CHECK_ERROR_NAME(WSAEDESTADDRREQ)
      COMPAT_CHECK_ERROR_NAME(WSAEMSGSIZE)
      COMPAT_CHECK_ERROR_NAME(WSAEPROTOTYPE)
      COMPAT_CHECK_ERROR_NAME(WSAENOPROTOOPT)
      COMPAT_CHECK_ERROR_NAME(WSAEPROTONOSUPPORT)
      COMPAT_CHECK_ERROR_NAME(WSAESOCKTNOSUPPORT)
      COMPAT_CHECK_ERROR_NAME(WSAEOPNOTSUPP)
      COMPAT_CHECK_ERROR_NAME(WSAEPFNOSUPPORT)
      COMPAT_CHECK_ERROR_NAME(WSAEAFNOSUPPORT)
      COMPAT_CHECK_ERROR_NAME(WSAEADDRINUSE)
      COMPAT_CHECK_ERROR_NAME(WSAEADDRNOTAVAIL)
      COMPAT_CHECK_ERROR_NAME(WSAENETDOWN)
      COMPAT_CHECK_ERROR_NAME(WSAENETUNREACH)
      COMPAT_CHECK_ERROR_NAME(WSAENETRESET)
      COMPAT_CHECK_ERROR_NAME(WSAECONNABORTED)
      COMPAT_CHECK_ERROR_NAME(WSAECONNRESET)
      COMPAT_CHECK_ERROR_NAME(WSAENOBUFS)
      COMPAT_CHECK_ERROR_NAME(WSAEISCONN)
      COMPAT_CHECK_ERROR_NAME(WSAENOTCONN)
      COMPAT_CHECK_ERROR_NAME(WSAESHUTDOWN)
      COMPAT_CHECK_ERROR_NAME(WSAETOOMANYREFS)
      COMPAT_CHECK_ERROR_NAME(WSAETIMEDOUT)
      COMPAT_CHECK_ERROR_NAME(WSAECONNREFUSED)
      COMPAT_CHECK_ERROR_NAME(WSAELOOP)
      COMPAT_CHECK_ERROR_NAME(WSAENAMETOOLONG)
      COMPAT_CHECK_ERROR_NAME(WSAEHOSTDOWN)
      COMPAT_CHECK_ERROR_NAME(WSAEHOSTUNREACH)
      COMPAT_CHECK_ERROR_NAME(WSAENOTEMPTY)
      COMPAT_CHECK_ERROR_NAME(WSAEPROCLIM)
      COMPAT_CHECK_ERROR_NAME(WSAEUSERS)
      COMPAT_CHECK_ERROR_NAME(WSAEDQUOT)
      COMPAT_CHECK_ERROR_NAME(WSAESTALE)
      COMPAT_CHECK_ERROR_NAME(WSAEREMOTE)
      COMPAT_CHECK_ERROR_NAME(WSASYSNOTREADY)
      COMPAT_CHECK_ERROR_NAME(WSAVERNOTSUPPORTED)
      COMPAT_CHECK_ERROR_NAME(WSANOTINITIALISED)
      COMPAT_CHECK_ERROR_NAME(WSAEDISCON)
      COMPAT_CHECK_ERROR_NAME(WSAEINVALIDPROCTABLE)
      COMPAT_CHECK_ERROR_NAME(WSAEINVALIDPROVIDER)
      COMPAT_CHECK_ERROR_NAME(WSAEPROVIDERFAILEDINIT)
      COMPAT_CHECK_ERROR_NAME(WSAHOST_NOT_FOUND)
      COMPAT_CHECK_ERROR_NAME(WSATRY_AGAIN)
      COMPAT_CHECK_ERROR_NAME(WSANO_RECOVERY)
      COMPAT_CHECK_ERROR_NAME(WSANO_DATA)
    default:
      return "an unlisted code";
  }
#undef COMPAT_CHECK_ERROR_NAME
}

/* The error is read first: printing may change the thread's last error. */
static int check_failed(const char* condition, int line) {
  int error = WSAGetLastError();
  fprintf(stderr,
          "compat_check: check failed at line %d: %s "
          "(WSAGetLastError() = %d, %s)\n",
          line, condition, error, socket_error_name(error));
  return 1;
}

#define CHECK(condition)                         \
  do {                                           \
    if (!(condition)) {                          \
      return check_failed(#condition, __LINE__); \
    }                                            \
  } while (0)

/* Sizes and values a Windows program may rely on: they are Winsock's ABI. */
static int check_types_and_constants(void) {
  u_char first_byte = 0xff;
  u_short port = 0xffff;
  u_int count = 0xffffffffu;
  u_long argument = 0xffffffffu;
  BOOL flag = TRUE;
  CHECK(sizeof(u_char) == 1 && first_byte == 255);
  CHECK(sizeof(u_short) == 2 && port == 65535);
  CHECK(sizeof(u_int) == 4 && count == 4294967295u);
  CHECK(sizeof(u_long) == 4 && argument == 4294967295u);
  CHECK(sizeof(DWORD) == 4);
  CHECK(flag == TRUE && flag != FALSE);
  CHECK(sizeof(struct tcp_keepalive) == 3 * sizeof(u_long));
  CHECK(sizeof(LINGER) == 2 * sizeof(u_short));
  CHECK(sizeof(SOCKADDR) == 16 && sizeof(SOCKADDR_IN) == 16);
  CHECK(sizeof(SOCKADDR_IN6) == 28 && sizeof(SOCKADDR_STORAGE) == 128);
  CHECK(sizeof(IN_ADDR) == 4);
  CHECK((u_long)FIONBIO == 0x8004667eu);
  CHECK((u_long)FIONREAD == 0x4004667fu);
  CHECK((u_long)SIOCATMARK == 0x40047307u);
  CHECK((DWORD)SIO_KEEPALIVE_VALS == 0x98000004u);
  CHECK(SO_PROTOCOL_INFOA == 0x2004 && SO_PROTOCOL_INFOW == 0x2005);
  CHECK(CF_ACCEPT == 0 && CF_REJECT == 1 && CF_DEFER == 2);
  CHECK(HANDLE_FLAG_INHERIT == 1);
  CHECK(XP1_IFS_HANDLES == 0x00020000);
  CHECK(WSA_IO_INCOMPLETE == 996 && WSA_IO_PENDING == 997);
  CHECK(WSAEWOULDBLOCK == 10035 && WSAECONNRESET == 10054);
  CHECK(WSAHOST_NOT_FOUND == 11001 && WSATRY_AGAIN == 11002);
  CHECK(WSANO_RECOVERY == 11003 && WSANO_DATA == 11004);
  return 0;
}

static int check_last_error(void) {
  WSASetLastError(WSA_IO_PENDING);
  CHECK(WSAGetLastError() == WSA_IO_PENDING);
  WSASetLastError(WSATRY_AGAIN);
  CHECK(WSAGetLastError() == WSATRY_AGAIN);
  CHECK(strcmp(socket_error_name(WSAGetLastError()), "WSATRY_AGAIN") == 0);
  WSASetLastError(0);
  CHECK(WSAGetLastError() == 0);
  return 0;
}

/* Windows rejects a select with no socket in any set. */
static int check_select_without_sockets(void) {
  TIMEVAL timeout;
  timeout.tv_sec = 0;
  timeout.tv_usec = 1000;
  CHECK(select(0, NULL, NULL, NULL, &timeout) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAEINVAL);
  return 0;
}

static u_short port_of(const SOCKADDR_IN* address) {
  return ntohs(address->sin_port);
}

static void loopback_address(SOCKADDR_IN* address, u_short port) {
  IN_ADDR loopback;
  loopback.s_addr = htonl(INADDR_LOOPBACK);
  memset(address, 0, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_port = htons(port);
  address->sin_addr = loopback;
}

/* What libuv reads from SO_PROTOCOL_INFOW (and ports read from the A form):
 * the family and type, and whether the socket is an IFS handle, which
 * decides whether it may use the handle directly. */
static int check_protocol_info(SOCKET s, int family, int type, int protocol) {
  WSAPROTOCOL_INFOA info_a;
  WSAPROTOCOL_INFOW info_w;
  int length = sizeof(info_a);
  memset(&info_a, 0, sizeof(info_a));
  CHECK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOA, (char*)&info_a, &length) ==
        0);
  CHECK(length == (int)sizeof(info_a));
  CHECK(info_a.iAddressFamily == family);
  CHECK(info_a.iSocketType == type);
  CHECK(info_a.iProtocol == protocol);
  CHECK((info_a.dwServiceFlags1 & XP1_IFS_HANDLES) != 0);
  length = sizeof(info_w);
  memset(&info_w, 0, sizeof(info_w));
  CHECK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char*)&info_w, &length) ==
        0);
  CHECK(length == (int)sizeof(info_w));
  CHECK(info_w.iAddressFamily == family);
  CHECK(info_w.iSocketType == type);
  CHECK(info_w.iProtocol == protocol);
  CHECK((info_w.dwServiceFlags1 & XP1_IFS_HANDLES) != 0);
  if (type == SOCK_DGRAM) {
    CHECK((info_w.dwServiceFlags1 & XP1_CONNECTIONLESS) != 0);
  } else {
    CHECK((info_w.dwServiceFlags1 & XP1_GUARANTEED_ORDER) != 0);
  }
  return 0;
}

static int open_listener(SOCKET* listener, SOCKADDR_IN* address) {
  int length = sizeof(*address);
  u_long nonblocking = 1;
  SOCKADDR_IN peer;
  int peer_length = sizeof(peer);
  u_char* bytes;
  *listener = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                        WSA_FLAG_OVERLAPPED);
  CHECK(*listener != INVALID_SOCKET);
  loopback_address(address, 0);
  CHECK(inet_pton(AF_INET, "127.0.0.1", &address->sin_addr) == 1);
  CHECK(bind(*listener, (SOCKADDR*)address, sizeof(*address)) == 0);
  CHECK(listen(*listener, SOMAXCONN) == 0);
  CHECK(getsockname(*listener, (LPSOCKADDR)address, &length) == 0);
  CHECK(length == (int)sizeof(*address));
  CHECK(address->sin_family == AF_INET && port_of(address) != 0);
  bytes = (u_char*)&address->sin_addr;
  CHECK(bytes[0] == 127 && bytes[3] == 1);
  if (check_protocol_info(*listener, AF_INET, SOCK_STREAM, IPPROTO_TCP)) {
    return 1;
  }
  /* Nothing is waiting yet: a non-blocking accept says so. */
  CHECK(ioctlsocket(*listener, FIONBIO, &nonblocking) == 0);
  CHECK(accept(*listener, (SOCKADDR*)&peer, &peer_length) == INVALID_SOCKET);
  CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
  nonblocking = 0;
  CHECK(ioctlsocket(*listener, FIONBIO, &nonblocking) == 0);
  return 0;
}

/* State shared with the WSAAccept condition function. */
struct accept_offer {
  int verdict;
  int calls;
  u_short caller_port;
  u_short callee_port;
};

static u_short port_in(LPWSABUF id) {
  SOCKADDR_IN address;
  if (id == NULL || id->buf == NULL || id->len < sizeof(address)) return 0;
  memcpy(&address, id->buf, sizeof(address));
  return address.sin_family == AF_INET ? port_of(&address) : 0;
}

static int CALLBACK accept_condition(LPWSABUF lpCallerId, LPWSABUF lpCallerData,
                                     LPQOS lpSQOS, LPQOS lpGQOS,
                                     LPWSABUF lpCalleeId, LPWSABUF lpCalleeData,
                                     GROUP FAR* g, DWORD_PTR dwCallbackData) {
  struct accept_offer* offer = (struct accept_offer*)dwCallbackData;
  (void)lpCallerData;
  (void)lpSQOS;
  (void)lpGQOS;
  (void)lpCalleeData;
  (void)g;
  offer->calls++;
  offer->caller_port = port_in(lpCallerId);
  offer->callee_port = port_in(lpCalleeId);
  return offer->verdict;
}

/* The first offer of a connection is deferred (WSATRY_AGAIN), then offered
 * again by the next WSAAccept and accepted. */
static int accept_after_deferral(SOCKET listener,
                                 const SOCKADDR_IN* listener_address,
                                 SOCKET client, SOCKET* server) {
  struct accept_offer offer;
  SOCKADDR_IN client_address;
  SOCKADDR_IN peer;
  int length = sizeof(client_address);
  CHECK(getsockname(client, (PSOCKADDR)&client_address, &length) == 0);
  memset(&offer, 0, sizeof(offer));
  offer.verdict = CF_DEFER;
  length = sizeof(peer);
  CHECK(WSAAccept(listener, (SOCKADDR*)&peer, &length, accept_condition,
                  (DWORD_PTR)&offer) == INVALID_SOCKET);
  CHECK(WSAGetLastError() == WSATRY_AGAIN);
  CHECK(offer.calls == 1);
  CHECK(offer.caller_port == port_of(&client_address));
  CHECK(offer.callee_port == port_of(listener_address));
  offer.verdict = CF_ACCEPT;
  offer.caller_port = 0;
  length = sizeof(peer);
  *server = WSAAccept(listener, (SOCKADDR*)&peer, &length, accept_condition,
                      (DWORD_PTR)&offer);
  CHECK(*server != INVALID_SOCKET);
  CHECK(offer.calls == 2);
  CHECK(offer.caller_port == port_of(&client_address));
  CHECK(length == (int)sizeof(peer));
  CHECK(port_of(&peer) == port_of(&client_address));
  return 0;
}

/* Both ends name each other, through int lengths and SOCKADDR_STORAGE. */
static int check_names(SOCKET server, SOCKET client,
                       const SOCKADDR_IN* listener_address) {
  SOCKADDR_STORAGE peer;
  SOCKADDR_IN peer_in;
  SOCKADDR_IN client_address;
  SOCKADDR_IN server_address;
  int length = sizeof(peer);
  CHECK(getpeername(server, (SOCKADDR*)&peer, &length) == 0);
  CHECK(length == (int)sizeof(SOCKADDR_IN));
  CHECK(peer.ss_family == AF_INET);
  memcpy(&peer_in, &peer, sizeof(peer_in));
  length = sizeof(client_address);
  CHECK(getsockname(client, (SOCKADDR*)&client_address, &length) == 0);
  CHECK(port_of(&peer_in) == port_of(&client_address));
  length = sizeof(server_address);
  CHECK(getsockname(server, (SOCKADDR*)&server_address, &length) == 0);
  CHECK(port_of(&server_address) == port_of(listener_address));
  length = sizeof(server_address);
  CHECK(getpeername(client, (SOCKADDR*)&server_address, &length) == 0);
  CHECK(port_of(&server_address) == port_of(listener_address));
  return 0;
}

/* Client to server: send, then WSAPoll, select, FIONREAD, SIOCATMARK and
 * recv on the receiving side. */
static int check_client_to_server(SOCKET client, SOCKET server) {
  char message[] = "hello";
  char buffer[16];
  WSAPOLLFD polled[2];
  fd_set readable;
  TIMEVAL timeout;
  u_long pending = 0;
  u_long at_mark = 0;
  DWORD returned = 0;
  CHECK(send(client, message, 5, 0) == 5);
  memset(polled, 0, sizeof(polled));
  polled[0].fd = server;
  polled[0].events = POLLRDNORM;
  polled[1].fd = client;
  polled[1].events = POLLWRNORM;
  CHECK(WSAPoll(polled, 2, 5000) == 2);
  CHECK((polled[0].revents & POLLRDNORM) != 0);
  CHECK((polled[1].revents & POLLWRNORM) != 0);
  FD_ZERO(&readable);
  FD_SET(server, &readable);
  timeout.tv_sec = 5;
  timeout.tv_usec = 0;
  CHECK(select(0, &readable, NULL, NULL, &timeout) == 1);
  CHECK(FD_ISSET(server, &readable));
  CHECK(ioctlsocket(server, FIONREAD, &pending) == 0);
  CHECK(pending == 5);
  pending = 0;
  CHECK(WSAIoctl(server, FIONREAD, NULL, 0, &pending, sizeof(pending),
                 &returned, NULL, NULL) == 0);
  CHECK(returned == sizeof(pending) && pending == 5);
  /* No urgent data is waiting: Windows answers TRUE. */
  CHECK(ioctlsocket(server, SIOCATMARK, &at_mark) == 0);
  CHECK(at_mark != FALSE);
  CHECK(recv(server, buffer, (int)sizeof(buffer), 0) == 5);
  CHECK(memcmp(buffer, message, 5) == 0);
  return 0;
}

/* Server to client: WSASend gathers two buffers, WSARecv reads them. */
static int check_server_to_client(SOCKET server, SOCKET client) {
  char first[] = "wor";
  char second[] = "ld!";
  char buffer[16];
  WSABUF parts[2] = {{3, first}, {3, second}};
  WSABUF into;
  LPWSABUF receive_buffer = &into;
  DWORD sent = 0;
  DWORD received = 0;
  DWORD flags = 0;
  DWORD total = 0;
  CHECK(WSASend(server, parts, 2, &sent, 0, NULL, NULL) == 0);
  CHECK(sent == 6);
  while (total < 6) {
    into.buf = buffer + total;
    into.len = (u_long)(sizeof(buffer) - total);
    flags = 0;
    CHECK(WSARecv(client, receive_buffer, 1, &received, &flags, NULL, NULL) ==
          0);
    CHECK(received > 0);
    total += received;
  }
  CHECK(total == 6 && memcmp(buffer, "world!", 6) == 0);
  return 0;
}

/* SO_RCVTIMEO as a DWORD of milliseconds, LINGER, and keep-alive through
 * SIO_KEEPALIVE_VALS. */
static int check_options(SOCKET s) {
  DWORD timeout_ms = 5000;
  int length = sizeof(timeout_ms);
  LINGER linger = {1, 7};
  BOOL keepalive = FALSE;
  struct tcp_keepalive values;
  DWORD returned = 0;
  CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char*)&timeout_ms,
                   sizeof(timeout_ms)) == 0);
  timeout_ms = 0;
  CHECK(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char*)&timeout_ms, &length) ==
        0);
  CHECK(length == (int)sizeof(DWORD) && timeout_ms == 5000);
  CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, (const char*)&linger,
                   sizeof(linger)) == 0);
  memset(&linger, 0, sizeof(linger));
  length = sizeof(linger);
  CHECK(getsockopt(s, SOL_SOCKET, SO_LINGER, (char*)&linger, &length) == 0);
  CHECK(length == (int)sizeof(LINGER));
  CHECK(linger.l_onoff != 0 && linger.l_linger == 7);
  values.onoff = 1;
  values.keepalivetime = 60 * 1000;
  values.keepaliveinterval = 1000;
  CHECK(WSAIoctl(s, SIO_KEEPALIVE_VALS, &values, sizeof(values), NULL, 0,
                 &returned, NULL, NULL) == 0);
  length = sizeof(keepalive);
  CHECK(getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, (char*)&keepalive, &length) ==
        0);
  CHECK(keepalive != FALSE);
  return 0;
}

/* With nothing to read, a non-blocking socket reports WSAEWOULDBLOCK, from
 * WSARecv and from the plain recv alike. */
static int check_nonblocking(SOCKET s) {
  u_long nonblocking = 1;
  DWORD returned = 0;
  char buffer[4];
  WSABUF into;
  DWORD received = 0;
  DWORD flags = 0;
  CHECK(WSAIoctl(s, FIONBIO, &nonblocking, sizeof(nonblocking), NULL, 0,
                 &returned, NULL, NULL) == 0);
  into.buf = buffer;
  into.len = sizeof(buffer);
  CHECK(WSARecv(s, &into, 1, &received, &flags, NULL, NULL) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
  WSASetLastError(0);
  CHECK(recv(s, buffer, (int)sizeof(buffer), 0) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
  nonblocking = 0;
  CHECK(ioctlsocket(s, FIONBIO, &nonblocking) == 0);
  return 0;
}

static int check_inheritance(SOCKET s) {
  DWORD flags = 0;
  CHECK(SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0) != FALSE);
  CHECK(GetHandleInformation((HANDLE)s, &flags) != FALSE);
  CHECK((flags & HANDLE_FLAG_INHERIT) == 0);
  CHECK(SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT,
                             HANDLE_FLAG_INHERIT) == TRUE);
  CHECK(GetHandleInformation((HANDLE)s, &flags) == TRUE);
  CHECK((flags & HANDLE_FLAG_INHERIT) != 0);
  CHECK(SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0) == TRUE);
  return 0;
}

/* A receive timeout that runs out fails the recv with WSAETIMEDOUT. Windows
 * leaves the socket in an indeterminate state after it, so this comes last
 * for the socket, before its abortive close. */
static int check_receive_timeout(SOCKET s) {
  DWORD timeout_ms = 50;
  char buffer[4];
  CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char*)&timeout_ms,
                   sizeof(timeout_ms)) == 0);
  CHECK(recv(s, buffer, (int)sizeof(buffer), 0) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAETIMEDOUT);
  return 0;
}

/* Wine runs this program in the cross build's tests. Wine 8 announces an
 * abortive close with end of stream before the reset, where Windows and
 * Linux fail the peer's recv with WSAECONNRESET at once. */
#if defined(_WIN32)
static BOOL running_under_wine(void) {
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}
#else
static BOOL running_under_wine(void) { return FALSE; }
#endif

/* A zero linger makes closesocket reset the connection: the peer's recv and
 * then its send fail with WSAECONNRESET (and no signal ends the program). */
static int check_abortive_close(SOCKET client, SOCKET server) {
  LINGER abort_on_close;
  char buffer[4];
  int received;
  abort_on_close.l_onoff = 1;
  abort_on_close.l_linger = 0;
  CHECK(setsockopt(client, SOL_SOCKET, SO_LINGER, (char*)&abort_on_close,
                   sizeof(abort_on_close)) == 0);
  CHECK(closesocket(client) == 0);
  received = recv(server, buffer, (int)sizeof(buffer), 0);
  if (received == 0) CHECK(running_under_wine());
  if (received != 0) {
    CHECK(received == SOCKET_ERROR);
    CHECK(WSAGetLastError() == WSAECONNRESET);
  }
  CHECK(send(server, buffer, (int)sizeof(buffer), 0) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAECONNRESET);
  return 0;
}

/* The first connection: connect, a deferred and then accepted WSAAccept,
 * data both ways, options, and an abortive close. */
static int check_first_connection(SOCKET listener,
                                  const SOCKADDR_IN* listener_address) {
  SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKET server = INVALID_SOCKET;
  CHECK(client != INVALID_SOCKET);
  CHECK(connect(client, (const SOCKADDR*)listener_address,
                sizeof(*listener_address)) == 0);
  if (accept_after_deferral(listener, listener_address, client, &server) ||
      check_protocol_info(server, AF_INET, SOCK_STREAM, IPPROTO_TCP) ||
      check_names(server, client, listener_address) ||
      check_client_to_server(client, server) ||
      check_server_to_client(server, client) || check_options(client) ||
      check_nonblocking(client) || check_inheritance(server) ||
      check_receive_timeout(client) || check_abortive_close(client, server)) {
    return 1;
  }
  CHECK(closesocket(server) == 0);
  return 0;
}

/* The second connection: WSAConnect and accept, then the server's end is
 * duplicated to this very process and imported with WSASocket(0, 0, 0,
 * &info, 0, 0), and outlives the original. */
static int check_duplicated_connection(SOCKET listener,
                                       const SOCKADDR_IN* listener_address) {
  SOCKET client = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                            WSA_FLAG_OVERLAPPED);
  SOCKET server;
  SOCKET imported;
  SOCKADDR_IN peer;
  SOCKADDR_IN client_address;
  int length = sizeof(peer);
  WSAPROTOCOL_INFO info;
  char buffer[16];
  CHECK(client != INVALID_SOCKET);
  CHECK(WSAConnect(client, (const struct sockaddr FAR*)listener_address,
                   sizeof(*listener_address), NULL, NULL, NULL, NULL) == 0);
  server = accept(listener, (SOCKADDR*)&peer, &length);
  CHECK(server != INVALID_SOCKET);
  CHECK(length == (int)sizeof(peer));
  length = sizeof(client_address);
  CHECK(getsockname(client, (SOCKADDR*)&client_address, &length) == 0);
  CHECK(port_of(&peer) == port_of(&client_address));

  memset(&info, 0, sizeof(info));
  CHECK(WSADuplicateSocket(server, GetCurrentProcessId(), &info) == 0);
  CHECK(info.iAddressFamily == AF_INET && info.iSocketType == SOCK_STREAM);
  CHECK((info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0);
  imported = WSASocket(0, 0, 0, &info, 0, 0);
  CHECK(imported != INVALID_SOCKET);
  CHECK(imported != server);
  if (check_protocol_info(imported, AF_INET, SOCK_STREAM, IPPROTO_TCP)) {
    return 1;
  }
  length = sizeof(peer);
  CHECK(getpeername(imported, (SOCKADDR*)&peer, &length) == 0);
  CHECK(port_of(&peer) == port_of(&client_address));

  /* Both descriptors are the one connection. */
  CHECK(send(client, "dup", 3, 0) == 3);
  CHECK(recv(imported, buffer, (int)sizeof(buffer), 0) == 3);
  CHECK(memcmp(buffer, "dup", 3) == 0);
  CHECK(closesocket(server) == 0);
  CHECK(send(imported, "kept", 4, 0) == 4);
  CHECK(recv(client, buffer, (int)sizeof(buffer), 0) == 4);
  CHECK(memcmp(buffer, "kept", 4) == 0);
  /* The last descriptor closes gracefully: the client sees end of stream. */
  CHECK(closesocket(imported) == 0);
  CHECK(recv(client, buffer, (int)sizeof(buffer), 0) == 0);
  CHECK(closesocket(client) == 0);
  return 0;
}

/* A condition function that answers CF_REJECT refuses the connection. */
static int check_rejected_connection(SOCKET listener,
                                     const SOCKADDR_IN* listener_address) {
  SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  struct accept_offer offer;
  CHECK(client != INVALID_SOCKET);
  CHECK(connect(client, (const SOCKADDR*)listener_address,
                sizeof(*listener_address)) == 0);
  memset(&offer, 0, sizeof(offer));
  offer.verdict = CF_REJECT;
  CHECK(WSAAccept(listener, NULL, NULL, accept_condition, (DWORD_PTR)&offer) ==
        INVALID_SOCKET);
  CHECK(WSAGetLastError() == WSAECONNREFUSED);
  CHECK(offer.calls == 1);
  CHECK(closesocket(client) == 0);
  return 0;
}

/* A non-blocking connect reports WSAEWOULDBLOCK while under way, then
 * select reports a success in writefds. */
static int check_nonblocking_connect(SOCKET listener,
                                     const SOCKADDR_IN* listener_address) {
  SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKET server;
  u_long nonblocking = 1;
  fd_set writable;
  fd_set failed;
  TIMEVAL timeout;
  CHECK(client != INVALID_SOCKET);
  CHECK(ioctlsocket(client, FIONBIO, &nonblocking) == 0);
  CHECK(connect(client, (const SOCKADDR*)listener_address,
                sizeof(*listener_address)) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  FD_SET(client, &writable);
  FD_SET(client, &failed);
  timeout.tv_sec = 10;
  timeout.tv_usec = 0;
  CHECK(select(0, NULL, &writable, &failed, &timeout) == 1);
  CHECK(FD_ISSET(client, &writable) && !FD_ISSET(client, &failed));
  server = accept(listener, NULL, NULL);
  CHECK(server != INVALID_SOCKET);
  CHECK(closesocket(server) == 0);
  CHECK(closesocket(client) == 0);
  return 0;
}

/* A refused non-blocking connect: select reports it in exceptfds (not in
 * writefds, as POSIX would) and SO_ERROR holds WSAECONNREFUSED. The port is
 * bound but not listening, so nothing can take it meanwhile. */
static int check_refused_connect(void) {
  SOCKET bound = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKET client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  SOCKADDR_IN address;
  int length = sizeof(address);
  u_long nonblocking = 1;
  fd_set writable;
  fd_set failed;
  TIMEVAL timeout;
  int error = 0;
  CHECK(bound != INVALID_SOCKET && client != INVALID_SOCKET);
  loopback_address(&address, 0);
  CHECK(bind(bound, (SOCKADDR*)&address, sizeof(address)) == 0);
  CHECK(getsockname(bound, (SOCKADDR*)&address, &length) == 0);
  CHECK(ioctlsocket(client, FIONBIO, &nonblocking) == 0);
  CHECK(connect(client, (SOCKADDR*)&address, sizeof(address)) == SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAEWOULDBLOCK);
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  FD_SET(client, &writable);
  FD_SET(client, &failed);
  /* Windows retries a refused connect for about two seconds. */
  timeout.tv_sec = 10;
  timeout.tv_usec = 0;
  CHECK(select(0, NULL, &writable, &failed, &timeout) == 1);
  CHECK(FD_ISSET(client, &failed) && !FD_ISSET(client, &writable));
  length = sizeof(error);
  CHECK(getsockopt(client, SOL_SOCKET, SO_ERROR, (char*)&error, &length) == 0);
  CHECK(error == WSAECONNREFUSED);
  CHECK(closesocket(client) == 0);
  CHECK(closesocket(bound) == 0);
  return 0;
}

static int check_tcp(void) {
  SOCKET listener = INVALID_SOCKET;
  SOCKADDR_IN address;
  if (open_listener(&listener, &address) ||
      check_first_connection(listener, &address) ||
      check_duplicated_connection(listener, &address) ||
      check_rejected_connection(listener, &address) ||
      check_nonblocking_connect(listener, &address) ||
      check_refused_connect()) {
    return 1;
  }
  CHECK(closesocket(listener) == 0);
  return 0;
}

/* UDP: WSASendTo and recvfrom one way, sendto and WSARecvFrom back. */
static int check_udp(void) {
  SOCKET first =
      WSASocket(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
  SOCKET second = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  SOCKADDR_IN first_address;
  SOCKADDR_IN second_address;
  SOCKADDR_IN from;
  int length;
  DWORD timeout_ms = 5000;
  char ping[] = "ping";
  char buffer[16];
  WSABUF datagram;
  DWORD sent = 0;
  DWORD received = 0;
  DWORD flags = 0;
  CHECK(first != INVALID_SOCKET && second != INVALID_SOCKET);
  loopback_address(&first_address, 0);
  loopback_address(&second_address, 0);
  CHECK(bind(first, (SOCKADDR*)&first_address, sizeof(first_address)) == 0);
  CHECK(bind(second, (SOCKADDR*)&second_address, sizeof(second_address)) == 0);
  length = sizeof(first_address);
  CHECK(getsockname(first, (SOCKADDR*)&first_address, &length) == 0);
  length = sizeof(second_address);
  CHECK(getsockname(second, (SOCKADDR*)&second_address, &length) == 0);
  if (check_protocol_info(first, AF_INET, SOCK_DGRAM, IPPROTO_UDP)) return 1;
  CHECK(setsockopt(first, SOL_SOCKET, SO_RCVTIMEO, (char*)&timeout_ms,
                   sizeof(timeout_ms)) == 0);
  CHECK(setsockopt(second, SOL_SOCKET, SO_RCVTIMEO, (char*)&timeout_ms,
                   sizeof(timeout_ms)) == 0);

  datagram.buf = ping;
  datagram.len = 4;
  CHECK(WSASendTo(first, &datagram, 1, &sent, 0, (SOCKADDR*)&second_address,
                  sizeof(second_address), NULL, NULL) == 0);
  CHECK(sent == 4);
  length = sizeof(from);
  CHECK(recvfrom(second, buffer, (int)sizeof(buffer), 0, (SOCKADDR*)&from,
                 &length) == 4);
  CHECK(length == (int)sizeof(from) && memcmp(buffer, "ping", 4) == 0);
  CHECK(port_of(&from) == port_of(&first_address));

  /* A datagram longer than the buffer: the part that fits, and
   * WSAEMSGSIZE. */
  CHECK(WSASendTo(first, &datagram, 1, &sent, 0, (SOCKADDR*)&second_address,
                  sizeof(second_address), NULL, NULL) == 0);
  memset(buffer, 0, sizeof(buffer));
  length = sizeof(from);
  CHECK(recvfrom(second, buffer, 2, 0, (SOCKADDR*)&from, &length) ==
        SOCKET_ERROR);
  CHECK(WSAGetLastError() == WSAEMSGSIZE);
  CHECK(memcmp(buffer, "pi", 2) == 0 && buffer[2] == 0);

  length = sizeof(from);
  CHECK(sendto(second, "pong", 4, 0, (SOCKADDR*)&from, length) == 4);
  datagram.buf = buffer;
  datagram.len = sizeof(buffer);
  length = sizeof(from);
  CHECK(WSARecvFrom(first, &datagram, 1, &received, &flags, (SOCKADDR*)&from,
                    &length, NULL, NULL) == 0);
  CHECK(received == 4 && memcmp(buffer, "pong", 4) == 0);
  CHECK(flags == 0);
  CHECK(length == (int)sizeof(from));
  CHECK(port_of(&from) == port_of(&second_address));
  CHECK(closesocket(first) == 0);
  CHECK(closesocket(second) == 0);
  return 0;
}

/* UDP over IPv6 loopback into a SOCKADDR_IN6, where the machine has one. */
static int check_udp6(void) {
  SOCKET s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
  SOCKADDR_IN6 address;
  SOCKADDR_IN6 from;
  int length = sizeof(address);
  char buffer[16];
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEAFNOSUPPORT) {
    printf("compat_check: no IPv6 here; the IPv6 exchange is skipped\n");
    return 0;
  }
  CHECK(s != INVALID_SOCKET);
  memset(&address, 0, sizeof(address));
  address.sin6_family = AF_INET6;
  CHECK(inet_pton(AF_INET6, "::1", &address.sin6_addr) == 1);
  if (bind(s, (SOCKADDR*)&address, sizeof(address)) == SOCKET_ERROR &&
      WSAGetLastError() == WSAEADDRNOTAVAIL) {
    printf("compat_check: no IPv6 loopback; the IPv6 exchange is skipped\n");
    CHECK(closesocket(s) == 0);
    return 0;
  }
  CHECK(getsockname(s, (SOCKADDR*)&address, &length) == 0);
  CHECK(length == (int)sizeof(SOCKADDR_IN6) && address.sin6_port != 0);
  if (check_protocol_info(s, AF_INET6, SOCK_DGRAM, IPPROTO_UDP)) return 1;
  CHECK(sendto(s, "six", 3, 0, (SOCKADDR*)&address, sizeof(address)) == 3);
  length = sizeof(from);
  CHECK(recvfrom(s, buffer, (int)sizeof(buffer), 0, (SOCKADDR*)&from,
                 &length) == 3);
  CHECK(length == (int)sizeof(SOCKADDR_IN6) && from.sin6_family == AF_INET6);
  CHECK(from.sin6_port == address.sin6_port);
  CHECK(memcmp(buffer, "six", 3) == 0);
  CHECK(closesocket(s) == 0);
  return 0;
}

int main(void) {
  WSADATA data;
  int failed;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    fprintf(stderr, "compat_check: WSAStartup failed\n");
    return 1;
  }
  failed = check_types_and_constants() || check_last_error() ||
           check_select_without_sockets() || check_tcp() || check_udp() ||
           check_udp6();
  if (data.wVersion != MAKEWORD(2, 2) && !failed) {
    failed = check_failed("data.wVersion == MAKEWORD(2, 2)", __LINE__);
  }
  if (WSACleanup() != 0 && !failed) {
    failed = check_failed("WSACleanup() == 0", __LINE__);
  }
  if (failed) return 1;
  printf("compat_check: every check passed\n");
  return 0;
}
