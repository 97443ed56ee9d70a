// Where agents listen, and who is at the other end of a connection.
//
// Each user has one private directory (mode 0700, owned by that user) that
// holds one socket per initialised process, named after its pid. A
// filesystem path is used rather than Linux's abstract namespace because
// abstract names carry no permissions and any user could squat them.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "errno_table.h"
#include "posix/internal.h"

#if defined(__linux__) && !defined(SO_PEERPIDFD)
#define SO_PEERPIDFD 77  // Linux 6.5; older C libraries lack the name
#endif

namespace wsadup::detail {
namespace {

// The environment variables that choose a process's rendezvous directory,
// read from the process's own environment or, for another user's process,
// from /proc/<pid>/environ.
struct DirectoryEnvironment {
  std::string override_directory;  // WSADUP_RUNTIME_DIR
  std::string runtime_directory;   // XDG_RUNTIME_DIR
  std::string temp_directory;      // TMPDIR
};

DirectoryEnvironment own_environment() {
  DirectoryEnvironment environment;
  if (const char* value = std::getenv("WSADUP_RUNTIME_DIR")) {
    environment.override_directory = value;
  }
  if (const char* value = std::getenv("XDG_RUNTIME_DIR")) {
    environment.runtime_directory = value;
  }
  if (const char* value = std::getenv("TMPDIR")) {
    environment.temp_directory = value;
  }
  return environment;
}

// A directory is private to uid when it is a real directory (not a
// symbolic link), owned by uid, and closed to group and others.
bool is_private_directory(const std::string& path, uid_t uid) {
  struct stat status;
  if (lstat(path.c_str(), &status) != 0) return false;
  return S_ISDIR(status.st_mode) && status.st_uid == uid &&
         (status.st_mode & 077) == 0;
}

// Picks the directory for a process of user uid with this environment:
// WSADUP_RUNTIME_DIR as given; else $XDG_RUNTIME_DIR/wsadup when
// XDG_RUNTIME_DIR is private to uid (a process that dropped privileges may
// have inherited root's); else wsadup-<uid> in the temp directory.
std::string choose_directory(const DirectoryEnvironment& environment,
                             uid_t uid) {
  if (!environment.override_directory.empty()) {
    return environment.override_directory;
  }
  if (!environment.runtime_directory.empty() &&
      environment.runtime_directory[0] == '/' &&
      is_private_directory(environment.runtime_directory, uid)) {
    return environment.runtime_directory + "/wsadup";
  }
  std::string temp = environment.temp_directory;
  if (temp.empty() || temp[0] != '/') temp = "/tmp";
  return temp + "/wsadup-" + std::to_string(uid);
}

#if defined(__linux__)
// Reads the rendezvous variables from another process's environment (its
// environment at exec time: later setenv calls are not visible there).
bool read_process_environment(pid_t pid, DirectoryEnvironment* environment) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/environ",
                     std::ios::binary);
  if (!file) return false;
  std::string contents((std::istreambuf_iterator<char>(file)),
                       std::istreambuf_iterator<char>());
  size_t start = 0;
  while (start < contents.size()) {
    size_t end = contents.find('\0', start);
    if (end == std::string::npos) end = contents.size();
    std::string entry = contents.substr(start, end - start);
    auto take = [&entry](const char* name, std::string* value) {
      size_t length = std::strlen(name);
      if (entry.compare(0, length, name) == 0 && entry.size() > length &&
          entry[length] == '=') {
        *value = entry.substr(length + 1);
      }
    };
    take("WSADUP_RUNTIME_DIR", &environment->override_directory);
    take("XDG_RUNTIME_DIR", &environment->runtime_directory);
    take("TMPDIR", &environment->temp_directory);
    start = end + 1;
  }
  return true;
}
#endif

}  // namespace

int own_rendezvous_directory(std::string* directory) {
  uid_t uid = geteuid();
  std::string path = choose_directory(own_environment(), uid);
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return WSASYSNOTREADY;
  }
  // An existing directory must already be ours and private: one another user
  // made (to squat the names) or left open is refused, never repaired.
  if (!is_private_directory(path, uid)) return WSASYSNOTREADY;
  *directory = path;
  return 0;
}

namespace {

// The effective uid of process pid, or ours when it cannot be told. The
// kernel keeps /proc/<pid> itself owned by that uid even for a process that
// is not dumpable (unlike the files inside).
uid_t process_owner(pid_t pid) {
#if defined(__linux__)
  struct stat status;
  std::string proc_path = "/proc/" + std::to_string(pid);
  if (stat(proc_path.c_str(), &status) == 0) return status.st_uid;
#else
  (void)pid;
#endif
  return geteuid();
}

}  // namespace

int rendezvous_directory_of(pid_t pid, uid_t owner, std::string* directory) {
#if defined(__linux__)
  if (owner != geteuid()) {
    // Only root reaches another user's directory; anyone else cannot hand a
    // socket across users.
    if (geteuid() != 0) return WSAEINVAL;
    DirectoryEnvironment environment;
    if (!read_process_environment(pid, &environment)) return WSAEINVAL;
    std::string path = choose_directory(environment, owner);
    if (!is_private_directory(path, owner)) return WSAEINVAL;
    *directory = path;
    return 0;
  }
#else
  (void)pid;
  (void)owner;
#endif
  return own_rendezvous_directory(directory);
}

std::string rendezvous_name(const std::string& directory, pid_t pid,
                            const char* suffix) {
  std::string path = directory + "/" + std::to_string(pid) + suffix;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return std::string();
  return path;
}

std::string rendezvous_path(const std::string& directory, pid_t pid) {
  return rendezvous_name(directory, pid, ".sock");
}

int peer_identity(int connection, PeerIdentity* identity) {
#if defined(SO_PEERCRED)
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &credentials,
                 &length) != 0) {
    return translate_errno(errno);
  }
  identity->pid = credentials.pid;
  identity->uid = credentials.uid;
  return 0;
#elif defined(LOCAL_PEERPID)
  pid_t pid = -1;
  socklen_t length = sizeof(pid);
  if (getsockopt(connection, SOL_LOCAL, LOCAL_PEERPID, &pid, &length) != 0) {
    return translate_errno(errno);
  }
  uid_t uid;
  gid_t gid;
  if (getpeereid(connection, &uid, &gid) != 0) return translate_errno(errno);
  identity->pid = pid;
  identity->uid = uid;
  return 0;
#else
#error "no way to read a Unix-domain peer's credentials on this platform"
#endif
}

bool uid_allowed(uid_t peer_uid) {
  uid_t own = geteuid();
  return peer_uid == own || own == 0 || peer_uid == 0;
}

namespace {

// SO_PEERCRED's pid names whoever has that number now; the pidfd names the
// very process that listened. If that process is gone, the pid may already
// belong to someone else, so the peer is not the process we were asked for.
bool peer_process_still_alive(int connection) {
#if defined(__linux__) && defined(SYS_pidfd_send_signal)
  int pidfd = -1;
  socklen_t length = sizeof(pidfd);
  if (getsockopt(connection, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) !=
      0) {
    // Only a kernel without SO_PEERPIDFD (before 6.5) says ENOPROTOOPT;
    // SO_PEERCRED then stands alone. Earlier kernels that have it (6.8, for
    // one) refuse a pidfd for a listener whose process was reaped, with
    // EINVAL: exactly the reused-pid case this check is for. (Newer ones
    // return a pidfd of the dead process, which the signal below finds.)
    return errno == ENOPROTOOPT;
  }
  long sent = syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0);
  int saved = errno;
  close(pidfd);
  return sent == 0 || saved != ESRCH;
#else
  (void)connection;
  return true;
#endif
}

}  // namespace

int connect_to_agent(pid_t pid, bool* no_agent, int* error) {
  *no_agent = false;
  *error = 0;
  // A process of another user can never pull from this one: it may not
  // enter this user's directory. For it, no agent to push to is an error,
  // not a reason to leave a pull token that no one could redeem.
  uid_t owner = process_owner(pid);
  bool other_user = owner != geteuid();
  std::string directory;
  int status = rendezvous_directory_of(pid, owner, &directory);
  if (status != 0) {
    *error = status;
    return -1;
  }
  std::string path = rendezvous_path(directory, pid);
  if (path.empty()) {
    *error = WSAENAMETOOLONG;
    return -1;
  }
  // Non-blocking: a Unix-domain connect completes in the kernel, with no
  // help from the listening process, as long as its backlog has room; when
  // it has none (a stopped target that many sources connect to), EAGAIN
  // says so at once instead of waiting for the target to accept.
  int connection =
      socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (connection < 0) {
    *error = translate_errno(errno);
    return -1;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int connected;
  do {
    connected = connect(connection, reinterpret_cast<sockaddr*>(&address),
                        sizeof(address));
  } while (connected != 0 && errno == EINTR);
  if (connected == 0) {
    connected = fcntl(connection, F_SETFL,
                      fcntl(connection, F_GETFL) & ~O_NONBLOCK);
  }
  if (connected != 0) {
    int saved = errno;
    close(connection);
    if (saved == EAGAIN || saved == EWOULDBLOCK) {
      *error = WSAENOBUFS;  // the target's backlog is full
    } else if (saved == ENOENT || saved == ECONNREFUSED || saved == ENOTDIR) {
      // Not initialised, or a stale name left by a crash.
      if (other_user) {
        *error = WSAEINVAL;
      } else {
        *no_agent = true;
      }
    } else {
      *error = translate_errno(saved);
    }
    return -1;
  }
  PeerIdentity peer;
  status = peer_identity(connection, &peer);
  if (status != 0 || peer.pid != pid || !uid_allowed(peer.uid) ||
      !peer_process_still_alive(connection)) {
    // Whoever listens there is not the process asked for: send it nothing.
    // The pull path is still safe, since there the kernel checks the puller.
    close(connection);
    if (other_user) {
      *error = WSAEINVAL;
    } else {
      *no_agent = true;
    }
    return -1;
  }
  return connection;
}

}  // namespace wsadup::detail
