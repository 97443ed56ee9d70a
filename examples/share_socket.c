/*
 * Sharing sockets with another process as bytes, in the shape of CPython's
 * socket.share() / socket.fromshare() and .NET's Socket.DuplicateAndClose()
 * / new Socket(SocketInformation).
 *
 *   share_socket
 *
 * The parent starts a child process (this program again, --child) with
 * pipes for its standard input and output; the child reports its process id
 * after its WSAStartup. The parent then shares three sockets with it, one
 * after the other:
 *   - a connected TCP socket (the server end of a connection the parent
 *     made to itself),
 *   - a listening TCP socket, put in non-blocking mode first,
 *   - a bound UDP socket.
 * For each it calls WSADuplicateSocketW for the child and closes its own
 * socket at once, as DuplicateAndClose does, and writes one text line to the
 * child: the .NET SocketInformationOptions (connected, listening,
 * non-blocking) and the WSAPROTOCOL_INFOW bytes as text
 * (wsadup_token_to_text). The child does what fromshare and the
 * SocketInformation constructor do: WSASocketW(FROM_PROTOCOL_INFO, ...),
 * the family, type and protocol from the token, the blocking mode from the
 * options (ioctlsocket FIONBIO); it reads getsockopt(SO_TYPE),
 * getsockopt(SO_ACCEPTCONN), getsockname and getpeername and reports the kind
 * of socket it got, and then proves it works: it echoes on the connection,
 * accepts a connection the parent makes to the listener (after checking that
 * accept on the non-blocking listener says WSAEWOULDBLOCK while nobody
 * connects), and answers a datagram with sendto.
 *
 * The parent checks every report and every reply: exit 0 when all were
 * right and the child exited cleanly, 1 otherwise. Every wait on another
 * process is bounded.
 *
 * The Winsock code is the same on Windows and POSIX (on POSIX through
 * wsadup's compatibility headers); only starting the child and moving bytes
 * through its pipes differ, in the platform section.
 */
/* POSIX.1-2008 with XSI (poll's POLLRDNORM, kill, clock_gettime), also in a
 * strict C99 build. On Windows it changes nothing. */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#include <wsadup/wsadup.h>

/* Every wait on another process (a pipe, a connection, a datagram, an
 * exit). */
#define WAIT_MS 10000
#define LINE_SIZE (WSADUP_TOKEN_TEXT_SIZE + 64)

/* .NET's SocketInformationOptions. */
#define SHARE_NON_BLOCKING 1
#define SHARE_CONNECTED 2
#define SHARE_LISTENING 4

/* ------------------------------------------------------------ platform -- */
/* Starting this program again as a child with pipes for its standard input
 * and output, moving bytes through them, and waiting for its exit, each wait
 * bounded. This is the part a porter writes twice. */
#if defined(_WIN32)
#include <windows.h>

typedef struct child_process {
  HANDLE process;
  DWORD pid;
  HANDLE input;  /* our end of the child's standard input */
  HANDLE output; /* our end of the child's standard output */
} child_process;

/* Children are started from GetModuleFileName's path. */
static void platform_init(const char* program) { (void)program; }

static int child_start(const char* const* args, child_process* child) {
  SECURITY_ATTRIBUTES inheritable = {sizeof(inheritable), NULL, TRUE};
  HANDLE child_input = NULL, child_output = NULL, child_error = NULL;
  STARTUPINFOA startup;
  PROCESS_INFORMATION info;
  char path[MAX_PATH];
  char command[1024];
  DWORD length = GetModuleFileNameA(NULL, path, MAX_PATH);
  BOOL started;
  int i;
  if (length == 0 || length >= MAX_PATH) return -1;
  snprintf(command, sizeof(command), "\"%s\"", path);
  for (i = 0; args[i] != NULL; ++i) {
    strncat(command, " ", sizeof(command) - strlen(command) - 1);
    strncat(command, args[i], sizeof(command) - strlen(command) - 1);
  }
  if (!CreatePipe(&child_input, &child->input, &inheritable, 0)) return -1;
  if (!CreatePipe(&child->output, &child_output, &inheritable, 0)) {
    CloseHandle(child_input);
    CloseHandle(child->input);
    return -1;
  }
  /* Our ends stay here: a child holding one would keep its own pipe open. */
  SetHandleInformation(child->input, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(child->output, HANDLE_FLAG_INHERIT, 0);
  DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE),
                  GetCurrentProcess(), &child_error, 0, TRUE,
                  DUPLICATE_SAME_ACCESS);
  memset(&startup, 0, sizeof(startup));
  startup.cb = sizeof(startup);
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = child_input;
  startup.hStdOutput = child_output;
  startup.hStdError = child_error;
  started = CreateProcessA(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL,
                           &startup, &info);
  CloseHandle(child_input);
  CloseHandle(child_output);
  if (child_error != NULL) CloseHandle(child_error);
  if (!started) {
    CloseHandle(child->input);
    CloseHandle(child->output);
    return -1;
  }
  CloseHandle(info.hThread);
  child->process = info.hProcess;
  child->pid = info.dwProcessId;
  return 0;
}

static int child_write(child_process* child, const void* data, size_t size) {
  DWORD written = 0;
  return WriteFile(child->input, data, (DWORD)size, &written, NULL) &&
                 written == size
             ? 0
             : -1;
}

/* Reads exactly size bytes of the child's output within timeout_ms. An
 * anonymous pipe cannot be waited on, so this looks at it with
 * PeekNamedPipe and in between waits on the child process itself, a little
 * longer each time: the child's exit ends the wait at once. */
static int child_read(child_process* child, void* data, size_t size,
                      DWORD timeout_ms) {
  char* bytes = (char*)data;
  ULONGLONG deadline = GetTickCount64() + timeout_ms;
  DWORD pause_ms = 1;
  int exited = 0;
  while (size > 0) {
    DWORD available = 0, got = 0;
    ULONGLONG now = GetTickCount64();
    if (!PeekNamedPipe(child->output, NULL, 0, NULL, &available, NULL)) {
      return -1; /* end of file: the child is gone */
    }
    if (available == 0) {
      if (exited || now >= deadline) return -1;
      if (pause_ms > deadline - now) pause_ms = (DWORD)(deadline - now);
      exited = WaitForSingleObject(child->process, pause_ms) == WAIT_OBJECT_0;
      if (pause_ms < 16) pause_ms *= 2;
      continue;
    }
    if (available > size) available = (DWORD)size;
    if (!ReadFile(child->output, bytes, available, &got, NULL) || got == 0) {
      return -1;
    }
    bytes += got;
    size -= got;
  }
  return 0;
}

static void child_close_input(child_process* child) {
  if (child->input != NULL) CloseHandle(child->input);
  child->input = NULL;
}

/* The child's exit code, or -1 if it had not exited within timeout_ms (it is
 * then terminated). */
static int child_wait(child_process* child, DWORD timeout_ms) {
  DWORD code = 1;
  int result;
  child_close_input(child);
  if (WaitForSingleObject(child->process, timeout_ms) != WAIT_OBJECT_0) {
    TerminateProcess(child->process, 1);
    WaitForSingleObject(child->process, WAIT_MS);
    result = -1;
  } else {
    result = GetExitCodeProcess(child->process, &code) ? (int)code : -1;
  }
  CloseHandle(child->process);
  CloseHandle(child->output);
  return result;
}

/* The child's side: its own standard input and output. A read ends when the
 * parent writes or goes away (end of file). */
static int parent_read(void* data, size_t size) {
  char* bytes = (char*)data;
  while (size > 0) {
    DWORD got = 0;
    if (!ReadFile(GetStdHandle(STD_INPUT_HANDLE), bytes, (DWORD)size, &got,
                  NULL) ||
        got == 0) {
      return -1;
    }
    bytes += got;
    size -= got;
  }
  return 0;
}

static int parent_write(const void* data, size_t size) {
  DWORD written = 0;
  return WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), data, (DWORD)size, &written,
                   NULL) &&
                 written == size
             ? 0
             : -1;
}

#else /* POSIX */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct child_process {
  pid_t process;
  DWORD pid;
  int input;  /* our end of the child's standard input */
  int output; /* our end of the child's standard output */
} child_process;

static const char* program_path;

/* Children are started from the path this program was run as. */
static void platform_init(const char* program) { program_path = program; }

static int child_start(const char* const* args, child_process* child) {
  int to_child[2], from_child[2];
  const char* argv[16];
  int i;
  if (pipe(to_child) != 0) return -1;
  if (pipe(from_child) != 0) {
    close(to_child[0]);
    close(to_child[1]);
    return -1;
  }
  /* Close-on-exec, so that no later child inherits this one's pipes; dup2
   * clears the flag on the copies the child keeps as 0 and 1. */
  for (i = 0; i < 2; ++i) {
    fcntl(to_child[i], F_SETFD, FD_CLOEXEC);
    fcntl(from_child[i], F_SETFD, FD_CLOEXEC);
  }
  argv[0] = program_path;
  for (i = 0; args[i] != NULL && i < 14; ++i) argv[i + 1] = args[i];
  argv[i + 1] = NULL;
  child->process = fork();
  if (child->process < 0) return -1;
  if (child->process == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    execvp(program_path, (char* const*)argv);
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  child->pid = (DWORD)child->process;
  child->input = to_child[1];
  child->output = from_child[0];
  return 0;
}

static int child_write(child_process* child, const void* data, size_t size) {
  const char* bytes = (const char*)data;
  while (size > 0) {
    ssize_t put = write(child->input, bytes, size);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    bytes += put;
    size -= (size_t)put;
  }
  return 0;
}

static long long now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Reads exactly size bytes of the child's output within timeout_ms; size 0
 * waits for end of file instead. */
static int child_read(child_process* child, void* data, size_t size,
                      DWORD timeout_ms) {
  char* bytes = (char*)data;
  char discard[256];
  long long deadline = now_ms() + timeout_ms;
  int to_end = size == 0;
  while (size > 0 || to_end) {
    struct pollfd readable = {child->output, POLLIN, 0};
    int ready;
    long long left = deadline - now_ms();
    ssize_t got;
    if (left < 0) left = 0;
    ready = poll(&readable, 1, (int)left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    got = read(child->output, to_end ? discard : bytes,
               to_end ? sizeof(discard) : size);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0 && to_end) return 0;
    if (got <= 0) return -1;
    if (!to_end) {
      bytes += got;
      size -= (size_t)got;
    }
  }
  return 0;
}

static void child_close_input(child_process* child) {
  if (child->input >= 0) close(child->input);
  child->input = -1;
}

/* The child's exit code, or -1 if it had not exited within timeout_ms (it is
 * then killed). waitpid has no timeout; the end of the child's output, which
 * comes when it exits, bounds the wait instead. */
static int child_wait(child_process* child, DWORD timeout_ms) {
  int status = 0;
  int ended;
  child_close_input(child);
  ended = child_read(child, NULL, 0, timeout_ms) == 0;
  if (!ended) kill(child->process, SIGKILL);
  close(child->output);
  while (waitpid(child->process, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ended) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int parent_read(void* data, size_t size) {
  char* bytes = (char*)data;
  while (size > 0) {
    ssize_t got = read(0, bytes, size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    bytes += got;
    size -= (size_t)got;
  }
  return 0;
}

static int parent_write(const void* data, size_t size) {
  const char* bytes = (const char*)data;
  while (size > 0) {
    ssize_t put = write(1, bytes, size);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    bytes += put;
    size -= (size_t)put;
  }
  return 0;
}
#endif

/* --------------------------------------------------------------- lines -- */

static void report_error(const char* who, const char* what, int error) {
  fprintf(stderr, "%s: %s failed: %d (%s)\n", who, what, error,
          wsadup_error_name(error));
}

/* Reads one line from the child, each byte within WAIT_MS. */
static int child_read_line(child_process* child, char* line, size_t size) {
  size_t length = 0;
  while (length + 1 < size) {
    if (child_read(child, line + length, 1, WAIT_MS) != 0) return -1;
    if (line[length] == '\n') {
      line[length] = '\0';
      return 0;
    }
    ++length;
  }
  return -1;
}

/* Reads one line from the parent; -1 at its end of input. */
static int parent_read_line(char* line, size_t size) {
  size_t length = 0;
  while (length + 1 < size) {
    if (parent_read(line + length, 1) != 0) return -1;
    if (line[length] == '\n') {
      line[length] = '\0';
      return 0;
    }
    ++length;
  }
  return -1;
}

static int parent_write_line(const char* line) {
  return parent_write(line, strlen(line));
}

/* --------------------------------------------------------------- child -- */

/* Reads one line from a stream socket and answers "child <pid>: <line>". */
static int answer_line(SOCKET s, DWORD pid) {
  char request[256], reply[320];
  int length = 0, reply_length, sent = 0;
  while (length == 0 || request[length - 1] != '\n') {
    int got = recv(s, request + length, (int)sizeof(request) - length, 0);
    if (got == SOCKET_ERROR) {
      report_error("child", "recv", WSAGetLastError());
      return -1;
    }
    if (got == 0 || length + got == (int)sizeof(request)) {
      fprintf(stderr, "child: request cut short\n");
      return -1;
    }
    length += got;
  }
  reply_length = snprintf(reply, sizeof(reply), "child %lu: %.*s",
                          (unsigned long)pid, length, request);
  while (sent < reply_length) {
    int put = send(s, reply + sent, reply_length - sent, 0);
    if (put == SOCKET_ERROR) {
      report_error("child", "send", WSAGetLastError());
      return -1;
    }
    sent += put;
  }
  return 0;
}

/* socket.fromshare / new Socket(SocketInformation): the socket, and what it
 * is. */
static SOCKET from_share(const char* line, DWORD* options, int* token_type) {
  WSAPROTOCOL_INFOW info;
  char text[WSADUP_TOKEN_TEXT_SIZE];
  unsigned long shared_options = 0;
  u_long non_blocking;
  SOCKET s;
  /* 1256: WSADUP_TOKEN_TEXT_SIZE less its terminating NUL. */
  if (sscanf(line, "share %lu %1256s", &shared_options, text) != 2 ||
      wsadup_token_from_text(text, &info, sizeof(info)) != 0) {
    fprintf(stderr, "child: not a share line\n");
    return INVALID_SOCKET;
  }
  s = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                 &info, 0, WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) {
    report_error("child", "WSASocketW(FROM_PROTOCOL_INFO)", WSAGetLastError());
    return INVALID_SOCKET;
  }
  /* CPython takes the socket's family, type and protocol from the token. */
  if (info.iAddressFamily != AF_INET ||
      (info.iSocketType != SOCK_STREAM && info.iSocketType != SOCK_DGRAM) ||
      (info.iProtocol != IPPROTO_TCP && info.iProtocol != IPPROTO_UDP)) {
    fprintf(stderr, "child: unexpected family %d, type %d, protocol %d\n",
            info.iAddressFamily, info.iSocketType, info.iProtocol);
    closesocket(s);
    return INVALID_SOCKET;
  }
  /* .NET sets the blocking mode the options say. */
  non_blocking = (shared_options & SHARE_NON_BLOCKING) ? 1 : 0;
  if (ioctlsocket(s, FIONBIO, &non_blocking) == SOCKET_ERROR) {
    report_error("child", "ioctlsocket(FIONBIO)", WSAGetLastError());
    closesocket(s);
    return INVALID_SOCKET;
  }
  *options = (DWORD)shared_options;
  *token_type = info.iSocketType;
  return s;
}

/* Works out what kind of socket s is from the socket itself, as a program
 * that got it from elsewhere would: "tcp-connected", "tcp-listening" or
 * "udp", with its local and peer ports (0: none). NULL on failure, or when
 * SO_TYPE disagrees with the token's iSocketType. */
static const char* socket_kind(SOCKET s, int token_type, unsigned* local_port,
                               unsigned* peer_port) {
  int type = 0, type_length = (int)sizeof(type);
  int accepting = 0, accepting_length = (int)sizeof(accepting);
  struct sockaddr_in local, peer;
  int local_length = (int)sizeof(local), peer_length = (int)sizeof(peer);
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char*)&type, &type_length) ==
          SOCKET_ERROR ||
      getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, (char*)&accepting,
                 &accepting_length) == SOCKET_ERROR ||
      getsockname(s, (struct sockaddr*)&local, &local_length) == SOCKET_ERROR) {
    report_error("child", "getsockopt or getsockname", WSAGetLastError());
    return NULL;
  }
  if (type != token_type) {
    fprintf(stderr, "child: SO_TYPE %d, the token says %d\n", type, token_type);
    return NULL;
  }
  *local_port = ntohs(local.sin_port);
  *peer_port = 0;
  if (getpeername(s, (struct sockaddr*)&peer, &peer_length) == SOCKET_ERROR) {
    if (WSAGetLastError() != WSAENOTCONN) {
      report_error("child", "getpeername", WSAGetLastError());
      return NULL;
    }
  } else {
    *peer_port = ntohs(peer.sin_port);
  }
  if (type == SOCK_DGRAM && *peer_port == 0) return "udp";
  if (type == SOCK_STREAM && accepting && *peer_port == 0) {
    return "tcp-listening";
  }
  if (type == SOCK_STREAM && !accepting && *peer_port != 0) {
    return "tcp-connected";
  }
  fprintf(stderr, "child: SO_TYPE %d, SO_ACCEPTCONN %d, peer port %u\n", type,
          accepting, *peer_port);
  return NULL;
}

static int serve_connected(SOCKET s, DWORD pid) {
  DWORD timeout = WAIT_MS;
  if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
                 sizeof(timeout)) == SOCKET_ERROR) {
    report_error("child", "setsockopt(SO_RCVTIMEO)", WSAGetLastError());
    return -1;
  }
  return answer_line(s, pid);
}

/* The listener is non-blocking (the options said so): accept waits with
 * select, and answers WSAEWOULDBLOCK while nobody connects. */
static int check_nobody_connecting(SOCKET listener) {
  struct sockaddr_in peer;
  int peer_length = (int)sizeof(peer);
  SOCKET early = accept(listener, (struct sockaddr*)&peer, &peer_length);
  if (early != INVALID_SOCKET || WSAGetLastError() != WSAEWOULDBLOCK) {
    fprintf(stderr,
            "child: accept on the idle non-blocking listener gave "
            "%s, not WSAEWOULDBLOCK\n",
            early != INVALID_SOCKET ? "a connection"
                                    : wsadup_error_name(WSAGetLastError()));
    if (early != INVALID_SOCKET) closesocket(early);
    return -1;
  }
  return 0;
}

static int serve_listening(SOCKET listener, DWORD pid) {
  fd_set readable;
  struct timeval wait = {WAIT_MS / 1000, 0};
  struct sockaddr_in peer;
  int peer_length = (int)sizeof(peer), ready, result;
  u_long blocking = 0;
  SOCKET connection;
  FD_ZERO(&readable);
  FD_SET(listener, &readable);
  ready = select(0, &readable, NULL, NULL, &wait);
  if (ready != 1) {
    fprintf(stderr, "child: no connection to the shared listener (%s)\n",
            ready == 0 ? "timeout" : wsadup_error_name(WSAGetLastError()));
    return -1;
  }
  connection = accept(listener, (struct sockaddr*)&peer, &peer_length);
  if (connection == INVALID_SOCKET) {
    report_error("child", "accept", WSAGetLastError());
    return -1;
  }
  /* An accepted socket takes the listener's non-blocking mode on Windows;
   * answer_line wants a blocking one. */
  if (ioctlsocket(connection, FIONBIO, &blocking) == SOCKET_ERROR) {
    report_error("child", "ioctlsocket(FIONBIO)", WSAGetLastError());
    closesocket(connection);
    return -1;
  }
  result = serve_connected(connection, pid);
  closesocket(connection);
  return result;
}

static int serve_datagram(SOCKET s, DWORD pid) {
  DWORD timeout = WAIT_MS;
  char request[256], reply[320];
  struct sockaddr_in from;
  int from_length = (int)sizeof(from), got, reply_length;
  if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
                 sizeof(timeout)) == SOCKET_ERROR) {
    report_error("child", "setsockopt(SO_RCVTIMEO)", WSAGetLastError());
    return -1;
  }
  got = recvfrom(s, request, (int)sizeof(request), 0, (struct sockaddr*)&from,
                 &from_length);
  if (got == SOCKET_ERROR) {
    report_error("child", "recvfrom", WSAGetLastError());
    return -1;
  }
  reply_length = snprintf(reply, sizeof(reply), "child %lu: %.*s",
                          (unsigned long)pid, got, request);
  if (sendto(s, reply, reply_length, 0, (struct sockaddr*)&from, from_length) !=
      reply_length) {
    report_error("child", "sendto", WSAGetLastError());
    return -1;
  }
  return 0;
}

static int run_child(void) {
  WSADATA data;
  char line[LINE_SIZE];
  DWORD pid;
  int failures = 0;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  pid = GetCurrentProcessId();
  snprintf(line, sizeof(line), "ready %lu\n", (unsigned long)pid);
  if (parent_write_line(line) != 0) return 2;
  while (parent_read_line(line, sizeof(line)) == 0) {
    DWORD options = 0;
    int token_type = 0;
    unsigned local_port = 0, peer_port = 0;
    const char* kind = NULL;
    int served = -1;
    SOCKET s = from_share(line, &options, &token_type);
    if (s != INVALID_SOCKET) {
      kind = socket_kind(s, token_type, &local_port, &peer_port);
    }
    if (kind != NULL && (options & SHARE_LISTENING) &&
        (options & SHARE_NON_BLOCKING) && check_nobody_connecting(s) != 0) {
      kind = NULL;
    }
    snprintf(line, sizeof(line), "imported %s %u %u\n",
             kind != NULL ? kind : "nothing", local_port, peer_port);
    parent_write_line(line);
    if (kind == NULL) {
      ++failures;
    } else if (strcmp(kind, "tcp-connected") == 0) {
      served = serve_connected(s, pid);
    } else if (strcmp(kind, "tcp-listening") == 0) {
      served = serve_listening(s, pid);
    } else {
      served = serve_datagram(s, pid);
    }
    if (kind != NULL && served != 0) ++failures;
    if (s != INVALID_SOCKET) closesocket(s);
  }
  WSACleanup();
  return failures == 0 ? 0 : 1;
}

/* -------------------------------------------------------------- parent -- */

static unsigned local_port_of(SOCKET s) {
  struct sockaddr_in address;
  int length = (int)sizeof(address);
  if (getsockname(s, (struct sockaddr*)&address, &length) == SOCKET_ERROR) {
    return 0;
  }
  return ntohs(address.sin_port);
}

/* A socket bound to 127.0.0.1 on a port of the system's choosing. */
static SOCKET bound_socket(int type, int protocol) {
  struct sockaddr_in address;
  SOCKET s = socket(AF_INET, type, protocol);
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s == INVALID_SOCKET ||
      bind(s, (struct sockaddr*)&address, sizeof(address)) == SOCKET_ERROR) {
    report_error("parent", "socket and bind", WSAGetLastError());
    if (s != INVALID_SOCKET) closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

static void loopback_address(unsigned port, struct sockaddr_in* address) {
  memset(address, 0, sizeof(*address));
  address->sin_family = AF_INET;
  address->sin_port = htons((u_short)port);
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* DuplicateAndClose: the token for the child, then the parent lets go. The
 * child gets the token and the options as one line, and reports the kind of
 * socket it imported. Returns 0 if the report matches. */
static int share_and_close(child_process* child, SOCKET s, DWORD options,
                           const char* kind, unsigned local_port,
                           unsigned peer_port) {
  WSAPROTOCOL_INFOW info;
  char text[WSADUP_TOKEN_TEXT_SIZE], line[LINE_SIZE], got_kind[32];
  unsigned got_local = 0, got_peer = 0;
  int duplicated = WSADuplicateSocketW(s, child->pid, &info);
  if (duplicated == SOCKET_ERROR) {
    report_error("parent", "WSADuplicateSocketW", WSAGetLastError());
  }
  closesocket(s);
  if (duplicated == SOCKET_ERROR ||
      wsadup_token_to_text(&info, sizeof(info), text) != 0) {
    return -1;
  }
  snprintf(line, sizeof(line), "share %lu %s\n", (unsigned long)options, text);
  if (child_write(child, line, strlen(line)) != 0 ||
      child_read_line(child, line, sizeof(line)) != 0) {
    fprintf(stderr, "parent: no report from the child for the %s socket\n",
            kind);
    return -1;
  }
  if (sscanf(line, "imported %31s %u %u", got_kind, &got_local, &got_peer) !=
          3 ||
      strcmp(got_kind, kind) != 0 || got_local != local_port ||
      got_peer != peer_port) {
    fprintf(stderr,
            "parent: shared a %s socket (ports %u, %u), the child "
            "reports \"%s\"\n",
            kind, local_port, peer_port, line);
    return -1;
  }
  printf("%-14s local port %5u, peer port %5u: imported as %s\n", kind,
         local_port, peer_port, got_kind);
  return 0;
}

/* Sends a line on a connected stream socket and checks the child's answer,
 * which ends with the connection. */
static int check_answer(SOCKET s, DWORD child_pid, const char* request) {
  char expected[320], reply[320];
  int expected_length, length = 0;
  int request_length = (int)strlen(request);
  expected_length = snprintf(expected, sizeof(expected), "child %lu: %s",
                             (unsigned long)child_pid, request);
  if (send(s, request, request_length, 0) != request_length) {
    report_error("parent", "send", WSAGetLastError());
    return -1;
  }
  for (;;) {
    int got = recv(s, reply + length, (int)sizeof(reply) - length, 0);
    if (got == SOCKET_ERROR) {
      report_error("parent", "recv", WSAGetLastError());
      return -1;
    }
    if (got == 0) break;
    length += got;
    if (length == (int)sizeof(reply)) break;
  }
  if (length != expected_length ||
      memcmp(reply, expected, (size_t)length) != 0) {
    fprintf(stderr, "parent: wrong answer \"%.*s\"\n", length, reply);
    return -1;
  }
  return 0;
}

static SOCKET connect_to(unsigned port) {
  struct sockaddr_in address;
  DWORD timeout = WAIT_MS;
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  loopback_address(port, &address);
  if (s == INVALID_SOCKET ||
      setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
                 sizeof(timeout)) == SOCKET_ERROR ||
      connect(s, (struct sockaddr*)&address, sizeof(address)) == SOCKET_ERROR) {
    report_error("parent", "connect", WSAGetLastError());
    if (s != INVALID_SOCKET) closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

/* A connected TCP socket: the server end of a connection to ourselves. */
static int share_connected(child_process* child) {
  SOCKET listener = bound_socket(SOCK_STREAM, IPPROTO_TCP), client, server;
  unsigned server_port, client_port;
  int result;
  if (listener == INVALID_SOCKET) return -1;
  if (listen(listener, 1) == SOCKET_ERROR ||
      (client = connect_to(local_port_of(listener))) == INVALID_SOCKET) {
    closesocket(listener);
    return -1;
  }
  server = accept(listener, NULL, NULL);
  closesocket(listener);
  if (server == INVALID_SOCKET) {
    report_error("parent", "accept", WSAGetLastError());
    closesocket(client);
    return -1;
  }
  server_port = local_port_of(server);
  client_port = local_port_of(client);
  result = share_and_close(child, server, SHARE_CONNECTED, "tcp-connected",
                           server_port, client_port);
  if (result == 0) {
    result = check_answer(client, child->pid, "over the shared connection\n");
  }
  closesocket(client);
  return result;
}

/* A listening TCP socket, non-blocking, as an event-driven server keeps
 * it. */
static int share_listening(child_process* child) {
  SOCKET listener = bound_socket(SOCK_STREAM, IPPROTO_TCP), client;
  u_long non_blocking = 1;
  unsigned port;
  int result;
  if (listener == INVALID_SOCKET) return -1;
  if (listen(listener, 4) == SOCKET_ERROR ||
      ioctlsocket(listener, FIONBIO, &non_blocking) == SOCKET_ERROR) {
    report_error("parent", "listen and ioctlsocket", WSAGetLastError());
    closesocket(listener);
    return -1;
  }
  port = local_port_of(listener);
  if (share_and_close(child, listener, SHARE_LISTENING | SHARE_NON_BLOCKING,
                      "tcp-listening", port, 0) != 0) {
    return -1;
  }
  /* The parent's listener is closed: only the child's copy can accept. */
  client = connect_to(port);
  if (client == INVALID_SOCKET) return -1;
  result = check_answer(client, child->pid, "through the shared listener\n");
  closesocket(client);
  return result;
}

/* A bound UDP socket. */
static int share_datagram(child_process* child) {
  SOCKET shared = bound_socket(SOCK_DGRAM, IPPROTO_UDP), sender;
  const char request[] = "to the shared datagram socket";
  char expected[320], reply[320];
  struct sockaddr_in address, from;
  int from_length = (int)sizeof(from), expected_length, got;
  DWORD timeout = WAIT_MS;
  unsigned port;
  if (shared == INVALID_SOCKET) return -1;
  port = local_port_of(shared);
  if (share_and_close(child, shared, 0, "udp", port, 0) != 0) return -1;
  sender = bound_socket(SOCK_DGRAM, IPPROTO_UDP);
  if (sender == INVALID_SOCKET) return -1;
  loopback_address(port, &address);
  if (setsockopt(sender, SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
                 sizeof(timeout)) == SOCKET_ERROR ||
      sendto(sender, request, (int)strlen(request), 0,
             (struct sockaddr*)&address,
             sizeof(address)) != (int)strlen(request)) {
    report_error("parent", "sendto", WSAGetLastError());
    closesocket(sender);
    return -1;
  }
  got = recvfrom(sender, reply, (int)sizeof(reply), 0, (struct sockaddr*)&from,
                 &from_length);
  closesocket(sender);
  if (got == SOCKET_ERROR) {
    report_error("parent", "recvfrom", WSAGetLastError());
    return -1;
  }
  expected_length = snprintf(expected, sizeof(expected), "child %lu: %s",
                             (unsigned long)child->pid, request);
  if (got != expected_length || memcmp(reply, expected, (size_t)got) != 0 ||
      ntohs(from.sin_port) != port) {
    fprintf(stderr, "parent: wrong datagram \"%.*s\" from port %u\n", got,
            reply, (unsigned)ntohs(from.sin_port));
    return -1;
  }
  return 0;
}

static int run_parent(void) {
  WSADATA data;
  child_process child;
  const char* args[] = {"--child", NULL};
  char line[64];
  unsigned long reported_pid = 0;
  int failures = 0, exit_code;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (child_start(args, &child) != 0) {
    fprintf(stderr, "parent: cannot start the child\n");
    return 2;
  }
  if (child_read_line(&child, line, sizeof(line)) != 0 ||
      sscanf(line, "ready %lu", &reported_pid) != 1 ||
      reported_pid != child.pid) {
    fprintf(stderr, "parent: the child did not report ready\n");
    child_wait(&child, 0);
    return 1;
  }
  if (share_connected(&child) != 0) ++failures;
  if (share_listening(&child) != 0) ++failures;
  if (share_datagram(&child) != 0) ++failures;
  exit_code = child_wait(&child, WAIT_MS);
  WSACleanup();
  printf(
      "share socket: %d of 3 shared sockets worked in child %lu, which "
      "exited with %d\n",
      3 - failures, (unsigned long)child.pid, exit_code);
  return failures == 0 && exit_code == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  platform_init(argv[0]);
  if (argc == 2 && strcmp(argv[1], "--child") == 0) return run_child();
  if (argc != 1) {
    fprintf(stderr, "usage: %s\n", argv[0]);
    return 2;
  }
  return run_parent();
}
