#include "support.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/select.h>
#endif

namespace wsadup_test {

void warm_up_once() {
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) == 0) WSACleanup();
}

Session::Session() {
  WSADATA data;
  status_ = WSAStartup(MAKEWORD(2, 2), &data);
}

Session::~Session() {
  if (status_ == 0) WSACleanup();
}

namespace {

// Waits until s is readable; false after timeout_ms.
bool wait_readable(SOCKET s, int timeout_ms) {
  fd_set readable;
  FD_ZERO(&readable);
  FD_SET(s, &readable);
  timeval timeout;
  timeout.tv_sec = timeout_ms / 1000;
  timeout.tv_usec = (timeout_ms % 1000) * 1000;
  return select(static_cast<int>(s) + 1, &readable, nullptr, nullptr,
                &timeout) > 0;
}

bool fill_loopback(int family, unsigned short port, sockaddr_storage* address,
                   SockLen* length) {
  std::memset(address, 0, sizeof(*address));
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(address);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(address);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_loopback;
    *length = sizeof(sockaddr_in6);
  }
  return true;
}

unsigned short bound_port(SOCKET s) {
  sockaddr_storage address;
  SockLen length = sizeof(address);
  if (getsockname(s, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

SOCKET bound_socket(int family, int type, int protocol, unsigned short* port) {
  SOCKET s = WSASocketA(family, type, protocol, nullptr, 0, 0);
  if (s == INVALID_SOCKET) return s;
  sockaddr_storage address;
  SockLen length;
  fill_loopback(family, 0, &address, &length);
  if (bind(s, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  *port = bound_port(s);
  return s;
}

}  // namespace

bool send_all(SOCKET s, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    int n = send(s, data.data() + sent, static_cast<int>(data.size() - sent), 0);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool recv_exact(SOCKET s, size_t size, std::string* data, int timeout_ms) {
  data->clear();
  char buffer[4096];
  while (data->size() < size) {
    if (!wait_readable(s, timeout_ms)) return false;
    size_t want = size - data->size();
    if (want > sizeof(buffer)) want = sizeof(buffer);
    int n = recv(s, buffer, static_cast<int>(want), 0);
    if (n <= 0) return false;
    data->append(buffer, static_cast<size_t>(n));
  }
  return true;
}

bool sees_end_of_stream(SOCKET s, int timeout_ms) {
  char byte;
  if (!wait_readable(s, timeout_ms)) return false;
  return recv(s, &byte, 1, 0) == 0;
}

bool stays_quiet(SOCKET s, int timeout_ms) {
  return !wait_readable(s, timeout_ms);
}

SOCKET make_listener(int family, unsigned short* port) {
  SOCKET s = bound_socket(family, SOCK_STREAM, IPPROTO_TCP, port);
  if (s != INVALID_SOCKET && listen(s, 16) != 0) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

SOCKET connect_to(int family, unsigned short port) {
  SOCKET s = WSASocketA(family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, 0);
  if (s == INVALID_SOCKET) return s;
  sockaddr_storage address;
  SockLen length;
  fill_loopback(family, port, &address, &length);
  if (connect(s, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

bool make_tcp_pair(int family, TcpPair* pair) {
  unsigned short port = 0;
  SOCKET listener = make_listener(family, &port);
  if (listener == INVALID_SOCKET) return false;
  pair->client = connect_to(family, port);
  if (pair->client != INVALID_SOCKET && wait_readable(listener, kProcessTimeoutMs)) {
    pair->server = accept(listener, nullptr, nullptr);
  }
  closesocket(listener);
  return pair->client != INVALID_SOCKET && pair->server != INVALID_SOCKET;
}

SOCKET make_udp(int family, unsigned short* port) {
  return bound_socket(family, SOCK_DGRAM, IPPROTO_UDP, port);
}

bool send_udp(SOCKET s, int family, unsigned short port,
              const std::string& data) {
  sockaddr_storage address;
  SockLen length;
  fill_loopback(family, port, &address, &length);
  return sendto(s, data.data(), static_cast<int>(data.size()), 0,
                reinterpret_cast<sockaddr*>(&address),
                length) == static_cast<int>(data.size());
}

std::string token_bytes(const WSAPROTOCOL_INFOA& info) {
  return std::string(reinterpret_cast<const char*>(&info), sizeof(info));
}

std::string token_bytes(const WSAPROTOCOL_INFOW& info) {
  return std::string(reinterpret_cast<const char*>(&info), sizeof(info));
}

bool token_from_bytes(const std::string& bytes, WSAPROTOCOL_INFOA* info) {
  if (bytes.size() != sizeof(*info)) return false;
  std::memcpy(info, bytes.data(), sizeof(*info));
  return true;
}

bool token_from_bytes(const std::string& bytes, WSAPROTOCOL_INFOW* info) {
  if (bytes.size() != sizeof(*info)) return false;
  std::memcpy(info, bytes.data(), sizeof(*info));
  return true;
}

std::string duplicate_for(SOCKET s, uint32_t pid) {
  WSAPROTOCOL_INFOA info;
  if (WSADuplicateSocketA(s, pid, &info) != 0) return std::string();
  return token_bytes(info);
}

SOCKET import_token(WSAPROTOCOL_INFOA* info) {
  return WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                    info, 0, 0);
}

// ------------------------------------------------------------------ peer --

std::unique_ptr<Peer> Peer::start(bool init) {
  return adopt(ChildProcess::spawn("peer", {init ? "init" : "noinit"}));
}

std::unique_ptr<Peer> Peer::adopt(std::unique_ptr<ChildProcess> child,
                                  std::string* greeting) {
  if (!child) return nullptr;
  std::unique_ptr<Peer> peer(new Peer());
  peer->child_ = std::move(child);
  std::string hello;
  bool greeted = read_frame(*peer->child_, &hello);
  if (greeting != nullptr) *greeting = hello;
  if (!greeted || hello.compare(0, 4, "pid ") != 0) return nullptr;
  peer->pid_ = static_cast<uint32_t>(std::strtoul(hello.c_str() + 4, nullptr, 10));
  return peer;
}

Peer::~Peer() {
  if (child_) child_->kill();
}

std::string Peer::call(const std::string& command, const std::string& payload) {
  if (!write_frame(*child_, command)) return std::string();
  if (!payload.empty() && !write_frame(*child_, payload)) return std::string();
  std::string reply;
  if (!read_frame(*child_, &reply)) return std::string();
  return reply;
}

SOCKET Peer::connect_from_peer(SOCKET listener, int family,
                               unsigned short port) {
  std::string reply = call("connect " + std::to_string(family) + " " +
                           std::to_string(port));
  if (reply.compare(0, 3, "ok ") != 0) return INVALID_SOCKET;
  if (!wait_readable(listener, kProcessTimeoutMs)) return INVALID_SOCKET;
  return accept(listener, nullptr, nullptr);
}

int Peer::finish() {
  std::string reply = call("exit");
  int code = child_->wait(kProcessTimeoutMs);
  if (reply != "ok" && code == 0) code = 4;
  return code;
}

namespace {

// The peer helper: a command loop over its standard input and output.
class PeerProcess {
 public:
  int run(bool init) {
    size_t baseline = open_descriptor_count();
    if (init && WSAStartup(MAKEWORD(2, 2), &data_) != 0) return 2;
    if (!helper_write_frame("pid " + std::to_string(current_pid()))) return 2;
    for (;;) {
      std::string command;
      if (!helper_read_frame(&command)) return 5;  // the test went away
      std::istringstream words(command);
      std::string verb;
      words >> verb;
      if (verb == "exit") {
        while (WSACleanup() == 0) {
        }
        size_t now = open_descriptor_count();
        helper_write_frame(now == baseline ? "ok"
                                           : "leak " + std::to_string(now) +
                                                 " vs " +
                                                 std::to_string(baseline));
        return now == baseline ? 0 : 3;
      }
      if (!helper_write_frame(handle(verb, words))) return 5;
    }
  }

 private:
  static std::string error(int code) { return "err " + std::to_string(code); }

  SOCKET at(std::istringstream& words) {
    size_t index = 0;
    words >> index;
    return index < sockets_.size() ? sockets_[index] : INVALID_SOCKET;
  }

  std::string keep(SOCKET s) {
    sockets_.push_back(s);
    return "ok " + std::to_string(sockets_.size() - 1);
  }

  std::string handle(const std::string& verb, std::istringstream& words) {
    if (verb == "startup") {
      int status = WSAStartup(MAKEWORD(2, 2), &data_);
      return status == 0 ? "ok" : error(status);
    }
    if (verb == "cleanup") {
      return WSACleanup() == 0 ? "ok" : error(WSAGetLastError());
    }
    if (verb == "import") {
      std::string variant;
      words >> variant;
      std::string token;
      if (!helper_read_frame(&token)) return "err frame";
      SOCKET s;
      if (variant == "W") {
        WSAPROTOCOL_INFOW info;
        if (!token_from_bytes(token, &info)) return "err size";
        s = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &info, 0, WSA_FLAG_OVERLAPPED);
      } else {
        WSAPROTOCOL_INFOA info;
        if (!token_from_bytes(token, &info)) return "err size";
        s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &info, 0, WSA_FLAG_OVERLAPPED);
      }
      if (s == INVALID_SOCKET) return error(WSAGetLastError());
      return keep(s);
    }
    if (verb == "duplicate") {
      SOCKET s = at(words);
      unsigned long pid = 0;
      words >> pid;
      WSAPROTOCOL_INFOA info;
      if (WSADuplicateSocketA(s, static_cast<DWORD>(pid), &info) != 0) {
        return error(WSAGetLastError());
      }
      return "ok " + token_bytes(info);
    }
    if (verb == "connect") {
      int family = 0;
      unsigned short port = 0;
      words >> family >> port;
      SOCKET s = connect_to(family, port);
      if (s == INVALID_SOCKET) return error(WSAGetLastError());
      return keep(s);
    }
    if (verb == "send") {
      SOCKET s = at(words);
      std::string data;
      words >> data;
      return send_all(s, data) ? "ok" : "err send";
    }
    if (verb == "recv") {
      SOCKET s = at(words);
      size_t size = 0;
      words >> size;
      std::string data;
      return recv_exact(s, size, &data) ? "ok " + data : "err recv";
    }
    if (verb == "eof") {
      return sees_end_of_stream(at(words)) ? "ok" : "err no-eof";
    }
    if (verb == "accept") {
      SOCKET listener = at(words);
      SOCKET s = accept(listener, nullptr, nullptr);
      if (s == INVALID_SOCKET) return "err accept";
      return keep(s);
    }
    if (verb == "udp_send") {
      SOCKET s = at(words);
      int family = 0;
      unsigned short port = 0;
      std::string data;
      words >> family >> port >> data;
      return send_udp(s, family, port, data) ? "ok" : "err sendto";
    }
    if (verb == "udp_recv") {
      SOCKET s = at(words);
      if (stays_quiet(s, kProcessTimeoutMs)) return "err timeout";
      char buffer[2048];
      int n = recv(s, buffer, sizeof(buffer), 0);
      if (n < 0) return "err recv";
      return "ok " + std::string(buffer, static_cast<size_t>(n));
    }
    if (verb == "getopt") {
      SOCKET s = at(words);
      std::string name;
      words >> name;
      int value = 0;
      SockLen length = sizeof(value);
      int level = name == "nodelay" ? IPPROTO_TCP : SOL_SOCKET;
      int option = name == "nodelay"     ? TCP_NODELAY
                   : name == "keepalive" ? SO_KEEPALIVE
                                         : SO_RCVBUF;
      if (getsockopt(s, level, option, reinterpret_cast<char*>(&value),
                     &length) != 0) {
        return "err getsockopt";
      }
      return "ok " + std::to_string(value);
    }
    if (verb == "would_block") {
      SOCKET s = at(words);
      char byte;
      int n = recv(s, &byte, 1, 0);
#if defined(_WIN32)
      bool blocked = n < 0 && WSAGetLastError() == WSAEWOULDBLOCK;
#else
      bool blocked = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
#endif
      return blocked ? "ok" : "err " + std::to_string(n);
    }
    if (verb == "fds") {
      return "ok " + std::to_string(open_descriptor_count());
    }
    if (verb == "close") {
      return closesocket(at(words)) == 0 ? "ok" : error(WSAGetLastError());
    }
    return "err unknown-command";
  }

  WSADATA data_;
  std::vector<SOCKET> sockets_;
};

}  // namespace

}  // namespace wsadup_test

WSADUP_TEST_HELPER(peer) {
  wsadup_test::PeerProcess peer;
  return peer.run(!arguments.empty() && arguments[0] == "init");
}
