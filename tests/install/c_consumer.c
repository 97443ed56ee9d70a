/*
 * A C program, built against the installed package by a project that never
 * enables C++: it proves that libwsadup.a links with the C compiler and
 * nothing added by hand (its C++ runtime comes with the package), and that
 * a socket handed across two real processes works.
 *
 *   wsadup_c_consumer            the parent
 *   wsadup_c_consumer --child    the second copy, started by the parent
 *
 * The parent starts a second copy of itself with its standard input and
 * output on pipes, connects a TCP pair over 127.0.0.1, duplicates the
 * accepted end for the child with WSADuplicateSocketA once the child reports
 * that it has called WSAStartup, and writes the WSAPROTOCOL_INFOA bytes to
 * the child. The child imports them with WSASocketA(FROM_PROTOCOL_INFO),
 * receives one byte from the parent's end and sends back the next one, which
 * the parent checks. Every wait is bounded; any failure exits non-zero.
 */
#if !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wsadup/wsadup.h>

#define TIMEOUT_MS 10000
#define READY_BYTE 'R'
#define PARENT_BYTE 'p'

static int fail(const char* who, const char* what) {
  fprintf(stderr, "c_consumer %s: %s failed (WSAGetLastError %d, errno %d)\n",
          who, what, WSAGetLastError(), errno);
  return 1;
}

/* Waits until fd is readable (or at end of file); 0 when it is, -1 on a
 * timeout or an error. */
static int wait_readable(int fd) {
  struct pollfd entry;
  int ready;
  entry.fd = fd;
  entry.events = POLLIN;
  entry.revents = 0;
  do {
    ready = poll(&entry, 1, TIMEOUT_MS);
  } while (ready < 0 && errno == EINTR);
  return ready == 1 ? 0 : -1;
}

/* Reads exactly size bytes, each read bounded by wait_readable. */
static int read_exactly(int fd, void* data, size_t size) {
  char* bytes = (char*)data;
  while (size > 0) {
    ssize_t got;
    if (wait_readable(fd) != 0) return -1;
    got = read(fd, bytes, size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    bytes += got;
    size -= (size_t)got;
  }
  return 0;
}

static int write_exactly(int fd, const void* data, size_t size) {
  const char* bytes = (const char*)data;
  while (size > 0) {
    ssize_t put = write(fd, bytes, size);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    bytes += put;
    size -= (size_t)put;
  }
  return 0;
}

/* The second process: token on standard input, readiness on standard
 * output. */
static int run_child(void) {
  WSADATA data;
  WSAPROTOCOL_INFOA info;
  SOCKET imported;
  char byte = READY_BYTE;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0)
    return fail("child", "WSAStartup");
  /* Reported only after WSAStartup, so that the parent's duplication hands
   * the descriptor straight to this process (docs/porting.md, section 4). */
  if (write_exactly(1, &byte, 1) != 0) return fail("child", "ready report");
  if (read_exactly(0, &info, sizeof(info)) != 0) {
    return fail("child", "reading the token");
  }
  imported = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                        FROM_PROTOCOL_INFO, &info, 0, 0);
  if (imported == INVALID_SOCKET) return fail("child", "WSASocketA import");
  if (read_exactly(imported, &byte, 1) != 0) {
    return fail("child", "receiving on the imported socket");
  }
  byte = (char)(byte + 1);
  if (send(imported, &byte, 1, 0) != 1) {
    return fail("child", "sending on the imported socket");
  }
  if (closesocket(imported) != 0) return fail("child", "closesocket");
  if (WSACleanup() != 0) return fail("child", "WSACleanup");
  return 0;
}

/* Starts this program again as "--child", its standard input and output on
 * pipes. Returns the child's pid, or -1. */
static pid_t start_child(int* to_child, int* from_child) {
  int input[2], output[2];
  pid_t pid;
  char child_flag[] = "--child";
  char* argv[3];
  if (pipe(input) != 0) return -1;
  if (pipe(output) != 0) return -1;
  argv[0] = child_flag;
  argv[1] = child_flag;
  argv[2] = NULL;
  pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(input[0], 0);
    dup2(output[1], 1);
    close(input[0]);
    close(input[1]);
    close(output[0]);
    close(output[1]);
    execv("/proc/self/exe", argv);
    _exit(126);
  }
  close(input[0]);
  close(output[1]);
  *to_child = input[1];
  *from_child = output[0];
  return pid;
}

/* Waits, bounded, for the child to exit and returns its exit status. Its
 * end of the pipe closes as it exits, so end of file there means the wait
 * that follows is short; a child silent for TIMEOUT_MS is killed. */
static int child_status(pid_t pid, int from_child) {
  int status = 0;
  char byte;
  ssize_t got = 1;
  while (got > 0) {
    if (wait_readable(from_child) != 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fprintf(stderr, "c_consumer: the child did not exit in time\n");
      return 1;
    }
    got = read(from_child, &byte, 1);
    if (got < 0 && errno == EINTR) got = 1;
  }
  if (waitpid(pid, &status, 0) != pid) return fail("parent", "waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* A connected TCP pair over 127.0.0.1: *kept stays with the parent, *handed
 * goes to the child. */
static int tcp_pair(SOCKET* kept, SOCKET* handed) {
  struct sockaddr_in address;
  socklen_t length = sizeof(address);
  SOCKET listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener == INVALID_SOCKET) return -1;
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&address, sizeof(address)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr*)&address, &length) != 0) {
    closesocket(listener);
    return -1;
  }
  *kept = socket(AF_INET, SOCK_STREAM, 0);
  if (*kept == INVALID_SOCKET ||
      connect(*kept, (struct sockaddr*)&address, sizeof(address)) != 0) {
    closesocket(listener);
    return -1;
  }
  *handed = accept(listener, NULL, NULL);
  closesocket(listener);
  return *handed == INVALID_SOCKET ? -1 : 0;
}

static int run_parent(void) {
  WSADATA data;
  WSAPROTOCOL_INFOA info;
  SOCKET kept, handed;
  int to_child = -1, from_child = -1, status;
  char byte = 0;
  pid_t pid = start_child(&to_child, &from_child);
  if (pid < 0) return fail("parent", "starting the child");
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    status = fail("parent", "WSAStartup");
  } else if (tcp_pair(&kept, &handed) != 0) {
    status = fail("parent", "connecting a TCP pair");
  } else {
    status = 0;
    if (read_exactly(from_child, &byte, 1) != 0 || byte != READY_BYTE) {
      status = fail("parent", "waiting for the child's WSAStartup");
    } else if (WSADuplicateSocketA(handed, (DWORD)pid, &info) != 0) {
      status = fail("parent", "WSADuplicateSocketA");
    } else if (write_exactly(to_child, &info, sizeof(info)) != 0) {
      status = fail("parent", "writing the token");
    }
    /* The child's descriptor lives on without this one. */
    closesocket(handed);
    byte = PARENT_BYTE;
    if (status == 0 && send(kept, &byte, 1, 0) != 1) {
      status = fail("parent", "send");
    }
    if (status == 0 && read_exactly(kept, &byte, 1) != 0) {
      status = fail("parent", "receiving the child's reply");
    }
    if (status == 0 && byte != PARENT_BYTE + 1) {
      fprintf(stderr, "c_consumer: the child replied %d, not %d\n", byte,
              PARENT_BYTE + 1);
      status = 1;
    }
    closesocket(kept);
    if (WSACleanup() != 0 && status == 0) status = fail("parent", "WSACleanup");
  }
  close(to_child);
  if (child_status(pid, from_child) != 0 && status == 0) {
    fprintf(stderr, "c_consumer: the child failed\n");
    status = 1;
  }
  close(from_child);
  if (status == 0)
    printf("c_consumer: socket handed to process %d works\n", (int)pid);
  return status;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--child") == 0) return run_child();
  return run_parent();
}
