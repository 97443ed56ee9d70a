// What a descriptor is, and how big its addresses are.
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>

#include "posix/last_error.h"
#include "posix/socket_calls.h"

namespace wsadup::detail {

uint8_t tcp_state(int s) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 || length < 1) {
    return 0;
  }
  return info.tcpi_state;
}

bool socket_kind(int s, int* family, int* type, int* protocol) {
  socklen_t length = sizeof(int);
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, type, &length) != 0) return false;
#if defined(SO_DOMAIN) && defined(SO_PROTOCOL)
  length = sizeof(int);
  if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, family, &length) != 0) return false;
  length = sizeof(int);
  if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, protocol, &length) != 0) {
    return false;
  }
#else
  sockaddr_storage address{};
  length = sizeof(address);
  if (getsockname(s, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return false;
  }
  *family = address.ss_family;
  *protocol = 0;
#endif
  return true;
}

bool is_socket(int s) {
  struct stat status;
  return fstat(s, &status) == 0 && S_ISSOCK(status.st_mode);
}

int address_size_of(int s) {
  int family = AF_UNSPEC;
#if defined(SO_DOMAIN)
  socklen_t length = sizeof(family);
  if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &family, &length) != 0) return 0;
#else
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(s, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  family = address.ss_family;
#endif
  switch (family) {
    case AF_INET:
      return static_cast<int>(sizeof(sockaddr_in));
    case AF_INET6:
      return static_cast<int>(sizeof(sockaddr_in6));
    case AF_UNIX:
      return static_cast<int>(offsetof(sockaddr_un, sun_path));
    default:
      return static_cast<int>(sizeof(sockaddr));
  }
}

int copy_address_out(const sockaddr_storage& address, socklen_t address_length,
                     sockaddr* out, int* length) {
  if (address_length > sizeof(address)) address_length = sizeof(address);
  if (*length < 0 || static_cast<socklen_t>(*length) < address_length) {
    return fail(WSAEFAULT);
  }
  std::memcpy(out, &address, address_length);
  *length = static_cast<int>(address_length);
  return 0;
}

}  // namespace wsadup::detail
