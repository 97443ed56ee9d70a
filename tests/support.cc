#include "support.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#if !defined(_WIN32)
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

extern char** environ;
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

std::vector<std::string> duplicate_many(SOCKET s, uint32_t pid, size_t count,
                                        int* error) {
  std::vector<std::string> tokens;
  *error = 0;
  while (tokens.size() < count) {
    std::string token = duplicate_for(s, pid);
    if (token.empty()) {
      *error = WSAGetLastError();
      break;
    }
    tokens.push_back(token);
  }
  return tokens;
}

SOCKET import_token(WSAPROTOCOL_INFOA* info) {
  return WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                    info, 0, 0);
}

#if !defined(_WIN32)
std::vector<int> open_descriptors() {
  std::vector<int> found;
#if defined(__linux__)
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return found;
  int own = dirfd(directory);
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] == '.') continue;
    int descriptor = std::atoi(entry->d_name);
    if (descriptor != own) found.push_back(descriptor);
  }
  closedir(directory);
#else
  for (int descriptor = 0; descriptor < 4096; ++descriptor) {
    if (fcntl(descriptor, F_GETFD) != -1) found.push_back(descriptor);
  }
#endif
  std::sort(found.begin(), found.end());
  return found;
}

namespace {
// A static initialiser runs before main(), whose warm-up starts wsadup once:
// this is exactly what exec left open.
const std::vector<int> g_descriptors_at_start = open_descriptors();
}  // namespace

const std::vector<int>& descriptors_open_at_start() {
  return g_descriptors_at_start;
}
#endif

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
      if (verb == "exit_without_cleanup") {
        // Answered first, so the test knows the command arrived; then a
        // normal exit (static destructors, atexit) with WSAStartup in force.
        helper_write_frame("ok");
        std::exit(0);
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
      std::string option;
      words >> variant >> option;
      DWORD flags = WSA_FLAG_OVERLAPPED;
      if (option == "inherit") flags |= WSADUP_FLAG_HANDLE_INHERIT;
      std::string token;
      if (!helper_read_frame(&token)) return "err frame";
      SOCKET s;
      if (variant == "W") {
        WSAPROTOCOL_INFOW info;
        if (!token_from_bytes(token, &info)) return "err size";
        s = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &info, 0, flags);
      } else {
        WSAPROTOCOL_INFOA info;
        if (!token_from_bytes(token, &info)) return "err size";
        s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &info, 0, flags);
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
    if (verb == "post") {
      int value = -1;
      words >> value;
      return wsadup_set_option(WSADUP_OPTION_POSTED_PUSH, value) == 0
                 ? "ok"
                 : error(WSAGetLastError());
    }
    if (verb == "fds") {
      return "ok " + std::to_string(open_descriptor_count());
    }
    if (verb == "close") {
      return closesocket(at(words)) == 0 ? "ok" : error(WSAGetLastError());
    }
    if (verb == "event_select") return event_select(words);
    if (verb == "event_wait") {
      unsigned long timeout_ms = 0;
      words >> timeout_ms;
      if (event_ == WSA_INVALID_EVENT) return "err no-event";
      DWORD result = WSAWaitForMultipleEvents(
          1, &event_, FALSE, static_cast<DWORD>(timeout_ms), FALSE);
      if (result == WSA_WAIT_EVENT_0) return "ok signalled";
      if (result == WSA_WAIT_TIMEOUT) return "ok timeout";
      return error(WSAGetLastError());
    }
    if (verb == "event_reset") {
      if (event_ == WSA_INVALID_EVENT) return "err no-event";
      return WSAResetEvent(event_) ? "ok" : error(WSAGetLastError());
    }
    if (verb == "event_close") {
      if (event_ == WSA_INVALID_EVENT) return "ok";
      WSAEVENT event = event_;
      event_ = WSA_INVALID_EVENT;
      return WSACloseEvent(event) ? "ok" : error(WSAGetLastError());
    }
    if (verb == "enum_events") return enum_events(at(words));
    if (verb == "fionbio") {
      SOCKET s = at(words);
      unsigned long value = 0;
      words >> value;
      ULONG argument = static_cast<ULONG>(value);
      return ioctlsocket(s, FIONBIO, &argument) == 0 ? "ok"
                                                     : error(WSAGetLastError());
    }
#if !defined(_WIN32)
    if (verb == "plant_stale_name") return plant_stale_name();
    if (verb == "exec_probe") return exec_probe(at(words));
#endif
    return "err unknown-command";
  }

  // WSAEventSelect of socket i with this process's one event object, made
  // at the first call; mask 0 cancels, with no event, as Windows code does.
  std::string event_select(std::istringstream& words) {
    SOCKET s = at(words);
    long mask = 0;
    words >> mask;
    if (mask != 0 && event_ == WSA_INVALID_EVENT) {
      event_ = WSACreateEvent();
      if (event_ == WSA_INVALID_EVENT) return error(WSAGetLastError());
    }
    WSAEVENT event = mask != 0 ? event_ : WSA_INVALID_EVENT;
    return WSAEventSelect(s, event, mask) == 0 ? "ok"
                                               : error(WSAGetLastError());
  }

  // WSAEnumNetworkEvents of socket i, resetting this process's event (if it
  // has made one). The slots start as 0xAB bytes, so the reply shows which
  // ones the call wrote: "ok <lNetworkEvents> <iErrorCode[0]> ... [9]".
  std::string enum_events(SOCKET s) {
    WSANETWORKEVENTS events;
    std::memset(&events, 0xAB, sizeof(events));
    if (WSAEnumNetworkEvents(s, event_, &events) != 0) {
      return error(WSAGetLastError());
    }
    std::string reply = "ok " + std::to_string(events.lNetworkEvents);
    for (int code : events.iErrorCode) reply += " " + std::to_string(code);
    return reply;
  }

#if !defined(_WIN32)
  // What a process that crashed while initialised leaves behind: a socket
  // file at its rendezvous name with nothing listening. Needs
  // WSADUP_RUNTIME_DIR, so that the name is known without the library.
  static std::string plant_stale_name() {
    const char* directory = std::getenv("WSADUP_RUNTIME_DIR");
    if (directory == nullptr) return "err no-runtime-dir";
    std::string path =
        std::string(directory) + "/" + std::to_string(getpid()) + ".sock";
    sockaddr_un address{};
    if (path.size() >= sizeof(address.sun_path)) return "err path";
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0) return "err socket";
    bool bound =
        bind(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(s);
    return bound ? "ok " + path : "err bind " + std::to_string(errno);
  }

  // Starts this executable as the fd_probe helper with posix_spawn, which
  // runs no fork handlers (glibc's is a vfork-style clone): only
  // close-on-exec keeps this process's descriptors out of the new program.
  // Replies "ok extra=<descriptors> target=<open|closed> sent=<yes|no>":
  // extra lists what the probe had at start beyond what this process itself
  // was started with (which exec passes on again), target says whether the
  // descriptor number of socket s was open in it, and sent whether the probe
  // sent "x" through it.
  static std::string exec_probe(SOCKET s) {
    int output[2];
    if (pipe2(output, O_CLOEXEC) != 0) return "err pipe";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, output[1], 1);
    std::string executable = executable_path();
    std::vector<std::string> words = {executable, "--wsadup-helper", "fd_probe",
                                      std::to_string(s)};
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(&word[0]);
    argv.push_back(nullptr);
    pid_t child = -1;
    int spawned = posix_spawn(&child, executable.c_str(), &actions, nullptr,
                              argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(output[1]);
    if (spawned != 0) {
      close(output[0]);
      return "err spawn " + std::to_string(spawned);
    }
    // The probe writes one line and exits: read to end of file, bounded.
    std::string report;
    char buffer[512];
    for (;;) {
      pollfd waiting{output[0], POLLIN, 0};
      if (poll(&waiting, 1, kProcessTimeoutMs) <= 0) break;
      ssize_t got = read(output[0], buffer, sizeof(buffer));
      if (got <= 0) break;
      report.append(buffer, static_cast<size_t>(got));
    }
    close(output[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return "err probe-exit " + std::to_string(status);
    }
    // report: "<descriptor> <descriptor> ... | sent=<yes|no>"
    size_t bar = report.find('|');
    if (bar == std::string::npos) return "err report " + report;
    std::istringstream listed(report.substr(0, bar));
    const std::vector<int>& mine = descriptors_open_at_start();
    std::string extra;
    bool target_open = false;
    int descriptor;
    while (listed >> descriptor) {
      if (descriptor == static_cast<int>(s)) {
        target_open = true;
      } else if (!std::binary_search(mine.begin(), mine.end(), descriptor)) {
        extra += (extra.empty() ? "" : ",") + std::to_string(descriptor);
      }
    }
    return "ok extra=" + extra +
           " target=" + (target_open ? "open" : "closed") + " " +
           report.substr(bar + 2);
  }
#endif

  WSADATA data_;
  std::vector<SOCKET> sockets_;
  WSAEVENT event_ = WSA_INVALID_EVENT;
};

}  // namespace

namespace {

::testing::AssertionResult receives_exactly(SOCKET receiver,
                                            const std::string& word) {
  std::string got;
  if (!recv_exact(receiver, word.size(), &got)) {
    return ::testing::AssertionFailure() << "\"" << word << "\" did not arrive";
  }
  if (got != word) {
    return ::testing::AssertionFailure()
           << "got \"" << got << "\", not \"" << word << "\"";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

::testing::AssertionResult peer_imports_all(
    Peer& peer, const std::vector<std::string>& tokens, size_t first) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string reply = peer.call("import A", tokens[i]);
    if (reply != "ok " + std::to_string(first + i)) {
      return ::testing::AssertionFailure()
             << "token " << i << " of " << tokens.size() << ": " << reply;
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult peer_sends_through(Peer& peer, int index,
                                              SOCKET receiver,
                                              const std::string& word) {
  std::string reply = peer.call("send " + std::to_string(index) + " " + word);
  if (reply != "ok") {
    return ::testing::AssertionFailure() << "send " << index << ": " << reply;
  }
  return receives_exactly(receiver, word);
}

::testing::AssertionResult sends_through(SOCKET sender, SOCKET receiver,
                                         const std::string& word) {
  if (!send_all(sender, word)) {
    return ::testing::AssertionFailure() << "sending \"" << word << "\" failed";
  }
  return receives_exactly(receiver, word);
}

bool token_from_reply(const std::string& reply, WSAPROTOCOL_INFOA* info) {
  return reply.compare(0, 3, "ok ") == 0 &&
         token_from_bytes(reply.substr(3), info);
}

bool handoff_to_self_works() {
  TcpPair pair;
  if (!make_tcp_pair(AF_INET, &pair)) return false;
  WSAPROTOCOL_INFOA info;
  bool ok = WSADuplicateSocketA(pair.server, current_pid(), &info) == 0;
  SOCKET imported = ok ? import_token(&info) : INVALID_SOCKET;
  std::string got;
  ok = imported != INVALID_SOCKET && send_all(imported, "self") &&
       recv_exact(pair.client, 4, &got) && got == "self";
  if (imported != INVALID_SOCKET) closesocket(imported);
  closesocket(pair.server);
  closesocket(pair.client);
  return ok;
}

#if !defined(_WIN32)
DescriptorExhaustion::DescriptorExhaustion() {
  getrlimit(RLIMIT_NOFILE, &saved_);
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) highest = fd;
  }
  rlimit lowered = saved_;
  lowered.rlim_cur = static_cast<rlim_t>(highest + 1);
  setrlimit(RLIMIT_NOFILE, &lowered);
  for (;;) {
    int filler = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (filler < 0) break;
    fillers_.push_back(filler);
  }
}

void DescriptorExhaustion::release() {
  for (int filler : fillers_) close(filler);
  fillers_.clear();
  setrlimit(RLIMIT_NOFILE, &saved_);
}

bool watches_pull_targets() {
#if defined(SYS_pidfd_open)
  int fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  if (fd < 0) return errno != ENOSYS && errno != EPERM;
  close(fd);
  return true;
#else
  return false;
#endif
}
#endif

}  // namespace wsadup_test

WSADUP_TEST_HELPER(peer) {
  wsadup_test::PeerProcess peer;
  return peer.run(!arguments.empty() && arguments[0] == "init");
}

#if !defined(_WIN32)
// The program a peer execs in exec_probe: lists the descriptors exec left
// open in it, and sends "x" through the one named on its command line if
// that is an open socket. Writes "<descriptor>... | sent=<yes|no>".
WSADUP_TEST_HELPER(fd_probe) {
  int target = arguments.empty() ? -1 : std::atoi(arguments[0].c_str());
  std::string report;
  bool target_open = false;
  for (int descriptor : wsadup_test::descriptors_open_at_start()) {
    report += std::to_string(descriptor) + " ";
    if (descriptor == target) target_open = true;
  }
  bool sent = target_open && send(target, "x", 1, MSG_NOSIGNAL) == 1;
  report += std::string("| sent=") + (sent ? "yes" : "no");
  return wsadup_test::helper_write_raw(report.data(), report.size()) ? 0 : 1;
}
#endif
