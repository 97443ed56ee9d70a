#include "fuzz_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace wsadup_fuzz {

void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
  std::fflush(stderr);
  std::abort();
}

std::vector<Packet> split_packets(const uint8_t* data, size_t size,
                                  size_t max_packets) {
  static const int kDescriptorCounts[4] = {0, 1, 2, 5};
  std::vector<Packet> packets;
  size_t offset = 0;
  while (offset < size && packets.size() < max_packets) {
    uint8_t control = data[offset++];
    size_t length = offset < size ? data[offset++] : 0;
    length = std::min(length, size - offset);
    Packet packet;
    packet.payload.assign(data + offset, data + offset + length);
    packet.descriptors = kDescriptorCounts[control & 3];
    packet.flags = static_cast<uint8_t>(control >> 2);
    packets.push_back(std::move(packet));
    offset += length;
  }
  return packets;
}

int send_packet(int connection, const Packet& packet, int descriptor) {
  // An empty payload still needs a buffer address for the iovec.
  uint8_t empty = 0;
  iovec data{packet.payload.empty()
                 ? &empty
                 : const_cast<uint8_t*>(packet.payload.data()),
             packet.payload.size()};
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(5 * sizeof(int))];
  if (packet.descriptors > 0) {
    std::memset(control, 0, sizeof(control));
    size_t bytes = static_cast<size_t>(packet.descriptors) * sizeof(int);
    header.msg_control = control;
    header.msg_controllen = CMSG_SPACE(bytes);
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(bytes);
    // The same descriptor may be attached several times: the receiver gets
    // a new descriptor for each.
    for (int i = 0; i < packet.descriptors; ++i) {
      std::memcpy(CMSG_DATA(rights) + i * sizeof(int), &descriptor,
                  sizeof(int));
    }
  }
  for (;;) {
    ssize_t sent = sendmsg(connection, &header, MSG_NOSIGNAL);
    if (sent >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd waiting{fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&waiting, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  return ready > 0;
}

bool observe(int connection, int timeout_ms, Observed* observed) {
  *observed = Observed();
  if (!wait_readable(connection, timeout_ms)) return false;
  uint8_t buffer[512];
  iovec data{buffer, sizeof(buffer)};
  alignas(cmsghdr) char control[CMSG_SPACE(8 * sizeof(int))];
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  ssize_t got;
  do {
    got = recvmsg(connection, &header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    observed->closed = errno == ECONNRESET || errno == EPIPE;
    return observed->closed;
  }
  for (cmsghdr* item = CMSG_FIRSTHDR(&header); item != nullptr;
       item = CMSG_NXTHDR(&header, item)) {
    if (item->cmsg_level != SOL_SOCKET || item->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    size_t payload = item->cmsg_len - CMSG_LEN(0);
    for (size_t i = 0; i + sizeof(int) <= payload; i += sizeof(int)) {
      int descriptor;
      std::memcpy(&descriptor, CMSG_DATA(item) + i, sizeof(int));
      int flags = fcntl(descriptor, F_GETFD);
      if (flags < 0 || (flags & FD_CLOEXEC) == 0) {
        observed->descriptors_close_on_exec = false;
      }
      close(descriptor);
      ++observed->descriptors;
    }
  }
  if (got == 0 && observed->descriptors == 0) {
    observed->closed = true;
    return true;
  }
  observed->bytes.assign(buffer, buffer + got);
  return true;
}

size_t open_descriptor_count() {
  DIR* directory = opendir("/proc/self/fd");
  FUZZ_CHECK(directory != nullptr);
  size_t count = 0;
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(directory);
  return count - 1;  // the directory's own descriptor
}

int lowest_free_descriptor() {
  int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  FUZZ_CHECK(probe >= 0);
  close(probe);
  return probe;
}

std::string use_private_runtime_directory() {
  const char* temp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(temp != nullptr && temp[0] == '/' ? temp : "/tmp") +
      "/wsadup-fuzz-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  FUZZ_CHECK(mkdtemp(buffer.data()) != nullptr);
  std::string path(buffer.data());
  setenv("WSADUP_RUNTIME_DIR", path.c_str(), 1);
  return path;
}

std::string rendezvous_name(const std::string& directory, int pid) {
  return directory + "/" + std::to_string(pid) + ".sock";
}

int connect_seqpacket(const std::string& path) {
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    close(s);
    return -1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(s);
    return -1;
  }
  return s;
}

}  // namespace wsadup_fuzz
