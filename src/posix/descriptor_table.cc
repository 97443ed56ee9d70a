// The sockets wsadup created or imported in this process. Windows closes a
// process's sockets at its last WSACleanup; this table lets POSIX do the same
// without ever closing a descriptor number that now names something else.
#include <sys/stat.h>
#include <unistd.h>

#include "posix/internal.h"

namespace wsadup::detail {
namespace {

struct Identity {
  dev_t device;
  ino_t inode;
};

std::mutex g_table_mutex;
std::unordered_map<int, Identity> g_tracked;

}  // namespace

std::mutex& descriptor_table_mutex() { return g_table_mutex; }

void track_descriptor(int descriptor) {
  struct stat status;
  if (fstat(descriptor, &status) != 0) return;
  std::lock_guard<std::mutex> lock(g_table_mutex);
  g_tracked[descriptor] = Identity{status.st_dev, status.st_ino};
}

void untrack_descriptor(int descriptor) {
  std::lock_guard<std::mutex> lock(g_table_mutex);
  g_tracked.erase(descriptor);
}

void close_tracked_descriptors() {
  std::unordered_map<int, Identity> tracked;
  {
    std::lock_guard<std::mutex> lock(g_table_mutex);
    tracked.swap(g_tracked);
  }
  for (const auto& item : tracked) {
    struct stat status;
    // Closed with close() instead of closesocket() and the number reused:
    // the identity no longer matches, and the descriptor is left alone.
    if (fstat(item.first, &status) == 0 && S_ISSOCK(status.st_mode) &&
        status.st_dev == item.second.device &&
        status.st_ino == item.second.inode) {
      close(item.first);
    }
  }
}

}  // namespace wsadup::detail
