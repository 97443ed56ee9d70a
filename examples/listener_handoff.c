/*
 * Listener handoff in the shape of Apache httpd's winnt MPM.
 *
 *   listener_handoff [--connections N]
 *
 * The parent binds and listens on 127.0.0.1, then runs two generations of
 * one worker process each, as Apache replaces a child that reached
 * MaxConnectionsPerChild. For each worker it:
 *   - starts it with a pipe as its standard input (and one as its output),
 *   - waits until the worker reports its process id, which it sends after
 *     its WSAStartup, and checks it against the id from process creation,
 *   - duplicates its listening socket for that process with
 *     WSADuplicateSocket and writes the WSAPROTOCOL_INFO into the pipe, as
 *     Apache's send_listeners_to_child does.
 * The worker imports the listener with WSASocket(FROM_PROTOCOL_INFO, ...),
 * then does what Apache's child does to it: SetHandleInformation to keep it
 * out of the programs it might start, and WSAEventSelect(FD_ACCEPT) with an
 * event of its own, on which it waits for each connection with
 * WSAWaitForMultipleEvents (bounded) before WSAEnumNetworkEvents and accept,
 * as Apache's winnt_accept does without AcceptEx. An accepted socket
 * inherits that registration, so the worker checks that ioctlsocket(FIONBIO,
 * 0) fails with WSAEINVAL under it, cancels it with WSAEventSelect(s, NULL,
 * 0), and only then puts the socket in blocking mode. It accepts its quota
 * of connections, gives each an idle timeout with SO_RCVTIMEO in
 * milliseconds, answers each request line with "worker <pid>: <line>", and
 * cancels the listener's registration before it exits.
 *
 * The parent keeps its listener open across generations, as Apache does, so
 * the second worker gets the same socket again. A socket has one
 * registration whichever process holds it: while the first worker waits,
 * the parent's own ioctlsocket(FIONBIO, 0) on the listener must fail with
 * WSAEINVAL, and once each worker has exited it must succeed again. The
 * parent is also the client: the first worker's first connection stays
 * silent and must be closed by the worker's idle timeout (WSAETIMEDOUT);
 * every other connection sends a request and checks the reply. The program
 * exits 0 when every reply was right and both workers exited cleanly, 1
 * otherwise. Every wait on another process is bounded.
 *
 * The Winsock code is the same on Windows and POSIX (on POSIX through
 * wsadup's compatibility headers); only starting processes and moving bytes
 * through their pipes differ, in the platform section.
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

/* Every wait on another process (a pipe, a connection, an exit). */
#define WAIT_MS 10000
/* The worker's idle timeout for a connection, Apache's Timeout directive. */
#define IDLE_TIMEOUT_MS 200
#define GENERATIONS 2

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

/* Milliseconds on a clock that only goes forward. */
static long long now_ms(void) { return (long long)GetTickCount64(); }

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

/* Milliseconds on a clock that only goes forward. */
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

/* -------------------------------------------------------------- worker -- */

typedef struct worker_report {
  DWORD served;        /* requests answered */
  DWORD idle_timeouts; /* connections closed for saying nothing in time */
  DWORD errors;
} worker_report;

static void report_error(const char* who, const char* what, int error) {
  fprintf(stderr, "%s: %s failed: %d (%s)\n", who, what, error,
          wsadup_error_name(error));
}

/* Reads one request line and answers it, or closes a connection that stays
 * silent for IDLE_TIMEOUT_MS. */
static void serve_connection(SOCKET connection, DWORD pid,
                             worker_report* report) {
  DWORD idle_timeout = IDLE_TIMEOUT_MS;
  char request[256], reply[320];
  int length = 0, reply_length, sent = 0;
  if (setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO,
                 (const char*)&idle_timeout,
                 sizeof(idle_timeout)) == SOCKET_ERROR) {
    report_error("worker", "setsockopt(SO_RCVTIMEO)", WSAGetLastError());
    ++report->errors;
    return;
  }
  while (length == 0 || request[length - 1] != '\n') {
    int got =
        recv(connection, request + length, (int)sizeof(request) - length, 0);
    if (got == SOCKET_ERROR) {
      int error = WSAGetLastError();
      /* Windows reports an expired SO_RCVTIMEO as WSAETIMEDOUT and leaves
       * the connection in an undefined state: it can only be closed. */
      if (error == WSAETIMEDOUT && length == 0) {
        ++report->idle_timeouts;
      } else {
        report_error("worker", "recv", error);
        ++report->errors;
      }
      return;
    }
    if (got == 0 || length + got == (int)sizeof(request)) {
      fprintf(stderr, "worker: request cut short\n");
      ++report->errors;
      return;
    }
    length += got;
  }
  reply_length = snprintf(reply, sizeof(reply), "worker %lu: %.*s",
                          (unsigned long)pid, length, request);
  while (sent < reply_length) {
    int put = send(connection, reply + sent, reply_length - sent, 0);
    if (put == SOCKET_ERROR) {
      report_error("worker", "send", WSAGetLastError());
      ++report->errors;
      return;
    }
    sent += put;
  }
  ++report->served;
}

/* Waits, until deadline (now_ms) at most, for a network event recorded on
 * event for s, then takes the socket's record with WSAEnumNetworkEvents,
 * which clears it and resets the event in the same step. Returns 0 with the
 * record in happened, or -1, having said why, if the wait fails or the
 * deadline passes. */
static int wait_network_events(SOCKET s, WSAEVENT event, long long deadline,
                               WSANETWORKEVENTS* happened) {
  for (;;) {
    long long left = deadline - now_ms();
    DWORD result;
    if (left < 0) left = 0;
    result = WSAWaitForMultipleEvents(1, &event, FALSE, (DWORD)left, FALSE);
    if (result == WSA_WAIT_TIMEOUT) {
      fprintf(stderr, "worker: no connection within %d ms\n", WAIT_MS);
      return -1;
    }
    if (result != WSA_WAIT_EVENT_0) {
      report_error("worker", "WSAWaitForMultipleEvents", WSAGetLastError());
      return -1;
    }
    if (WSAEnumNetworkEvents(s, event, happened) == SOCKET_ERROR) {
      report_error("worker", "WSAEnumNetworkEvents", WSAGetLastError());
      return -1;
    }
    /* An empty record is a wake-up for an event already taken: wait on. */
    if (happened->lNetworkEvents != 0) return 0;
  }
}

/* Waits for the next connection on the registered listener and accepts it,
 * as Apache's winnt_accept does without AcceptEx. Returns INVALID_SOCKET,
 * having said why, if none comes within WAIT_MS. */
static SOCKET accept_next(SOCKET listener, WSAEVENT event) {
  long long deadline = now_ms() + WAIT_MS;
  for (;;) {
    WSANETWORKEVENTS happened;
    struct sockaddr_in peer;
    int peer_length = (int)sizeof(peer);
    SOCKET connection;
    int error;
    if (wait_network_events(listener, event, deadline, &happened) != 0) {
      return INVALID_SOCKET;
    }
    if ((happened.lNetworkEvents & FD_ACCEPT) == 0) {
      fprintf(stderr, "worker: events 0x%lx reported, FD_ACCEPT expected\n",
              (unsigned long)happened.lNetworkEvents);
      return INVALID_SOCKET;
    }
    if (happened.iErrorCode[FD_ACCEPT_BIT] != 0) {
      report_error("worker", "FD_ACCEPT", happened.iErrorCode[FD_ACCEPT_BIT]);
      return INVALID_SOCKET;
    }
    /* accept re-enables FD_ACCEPT: the next connection, or one already
     * queued behind this one, records it again. */
    connection = accept(listener, (struct sockaddr*)&peer, &peer_length);
    if (connection != INVALID_SOCKET) return connection;
    error = WSAGetLastError();
    /* The listener is non-blocking while registered, and a connection can
     * be reset before it is taken: Apache waits again for both. */
    if (error != WSAEWOULDBLOCK && error != WSAECONNRESET) {
      report_error("worker", "accept", error);
      return INVALID_SOCKET;
    }
  }
}

/* An accepted socket has the listener's properties, its WSAEventSelect
 * registration among them (the same event, FD_ACCEPT, and with it
 * non-blocking mode), and ioctlsocket cannot make it blocking while that
 * stands. The worker cancels it, as Apache's winnt_accept does, then sets
 * the blocking mode that serve_connection's SO_RCVTIMEO needs. */
static int cancel_inherited_registration(SOCKET connection) {
  u_long blocking = 0;
  int error;
  if (ioctlsocket(connection, FIONBIO, &blocking) != SOCKET_ERROR) {
    fprintf(stderr,
            "worker: ioctlsocket(FIONBIO, 0) succeeded under the accepted "
            "socket's inherited WSAEventSelect; Windows fails it with "
            "WSAEINVAL\n");
    return -1;
  }
  error = WSAGetLastError();
  if (error != WSAEINVAL) {
    fprintf(stderr,
            "worker: ioctlsocket(FIONBIO, 0) under the inherited "
            "WSAEventSelect failed with %d (%s), not WSAEINVAL\n",
            error, wsadup_error_name(error));
    return -1;
  }
  if (WSAEventSelect(connection, NULL, 0) == SOCKET_ERROR) {
    report_error("worker", "WSAEventSelect(NULL, 0)", WSAGetLastError());
    return -1;
  }
  if (ioctlsocket(connection, FIONBIO, &blocking) == SOCKET_ERROR) {
    report_error("worker", "ioctlsocket(FIONBIO, 0) after the cancel",
                 WSAGetLastError());
    return -1;
  }
  return 0;
}

static int run_worker(unsigned quota) {
  WSADATA data;
  WSAPROTOCOL_INFO info;
  SOCKET listener;
  WSAEVENT accept_event;
  worker_report report = {0, 0, 0};
  DWORD pid;
  unsigned i;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  /* Reported only after WSAStartup: a parent that duplicates for a process
   * that has started Winsock needs nothing more from it (on POSIX, the
   * listener is then already here when WSADuplicateSocket returns). */
  pid = GetCurrentProcessId();
  if (parent_write(&pid, sizeof(pid)) != 0) return 2;

  /* Apache's get_listeners_from_parent. */
  if (parent_read(&info, sizeof(info)) != 0) {
    fprintf(stderr, "worker: no WSAPROTOCOL_INFO from the parent\n");
    return 2;
  }
  listener = WSASocket(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &info, 0, 0);
  if (listener == INVALID_SOCKET) {
    report_error("worker", "WSASocket(FROM_PROTOCOL_INFO)", WSAGetLastError());
    return 2;
  }
  /* Programs the worker starts (CGI scripts) must not hold the listener. */
  if (!SetHandleInformation((HANDLE)listener, HANDLE_FLAG_INHERIT, 0)) {
    report_error("worker", "SetHandleInformation", (int)GetLastError());
    return 2;
  }
  accept_event = WSACreateEvent();
  if (accept_event == WSA_INVALID_EVENT) {
    report_error("worker", "WSACreateEvent", WSAGetLastError());
    return 2;
  }
  /* One registration for the whole quota, as Apache's accept thread makes.
   * It leaves the listener non-blocking, the mode the parent handed it in. */
  if (WSAEventSelect(listener, accept_event, FD_ACCEPT) == SOCKET_ERROR) {
    report_error("worker", "WSAEventSelect(FD_ACCEPT)", WSAGetLastError());
    ++report.errors;
    quota = 0;
  }

  for (i = 0; i < quota; ++i) {
    SOCKET connection = accept_next(listener, accept_event);
    if (connection == INVALID_SOCKET) {
      ++report.errors;
      break;
    }
    if (cancel_inherited_registration(connection) == 0) {
      serve_connection(connection, pid, &report);
    } else {
      ++report.errors;
    }
    closesocket(connection);
  }

  /* The registration is the socket's, not this process's: left in place, it
   * would outlive this worker in the parent's copy of the listener. */
  if (WSAEventSelect(listener, NULL, 0) == SOCKET_ERROR) {
    report_error("worker", "WSAEventSelect(NULL, 0)", WSAGetLastError());
    ++report.errors;
  }
  closesocket(listener);
  if (!WSACloseEvent(accept_event)) {
    report_error("worker", "WSACloseEvent", WSAGetLastError());
    ++report.errors;
  }
  parent_write(&report, sizeof(report));
  WSACleanup();
  return report.errors == 0 ? 0 : 1;
}

/* -------------------------------------------------------------- parent -- */

static SOCKET client_connect(const struct sockaddr_in* address) {
  DWORD timeout = WAIT_MS;
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) {
    report_error("client", "socket", WSAGetLastError());
    return INVALID_SOCKET;
  }
  /* A reply that never comes is a failure after WAIT_MS, not a hang. */
  if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
                 sizeof(timeout)) == SOCKET_ERROR ||
      connect(s, (const struct sockaddr*)address, sizeof(*address)) ==
          SOCKET_ERROR) {
    report_error("client", "connect", WSAGetLastError());
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

/* Reads until the worker closes the connection; returns the length, or -1. */
static int receive_to_end(SOCKET s, char* buffer, int size) {
  int length = 0;
  for (;;) {
    int got = recv(s, buffer + length, size - length, 0);
    if (got == SOCKET_ERROR) {
      report_error("client", "recv", WSAGetLastError());
      return -1;
    }
    if (got == 0) return length;
    length += got;
    if (length == size) return -1;
  }
}

/* One request and its reply. Returns 1 if the reply was right. */
static int exchange(const struct sockaddr_in* address, DWORD worker_pid,
                    unsigned number) {
  char request[64], expected[128], reply[128];
  int request_length, expected_length, reply_length;
  SOCKET s = client_connect(address);
  if (s == INVALID_SOCKET) return 0;
  request_length = snprintf(request, sizeof(request), "request %u\n", number);
  expected_length = snprintf(expected, sizeof(expected), "worker %lu: %s",
                             (unsigned long)worker_pid, request);
  if (send(s, request, request_length, 0) != request_length) {
    report_error("client", "send", WSAGetLastError());
    closesocket(s);
    return 0;
  }
  reply_length = receive_to_end(s, reply, (int)sizeof(reply));
  closesocket(s);
  if (reply_length != expected_length ||
      memcmp(reply, expected, (size_t)expected_length) != 0) {
    fprintf(stderr, "client: request %u: wrong reply \"%.*s\"\n", number,
            reply_length < 0 ? 0 : reply_length, reply);
    return 0;
  }
  return 1;
}

/* A connection that says nothing: the worker must close it after its idle
 * timeout. Returns 1 if it did. */
static int idle_connection_closed(const struct sockaddr_in* address) {
  char byte;
  int got;
  SOCKET s = client_connect(address);
  if (s == INVALID_SOCKET) return 0;
  got = recv(s, &byte, 1, 0);
  if (got != 0) {
    fprintf(
        stderr, "client: the idle connection was not closed: %d (%s)\n",
        got == SOCKET_ERROR ? WSAGetLastError() : 0,
        got == SOCKET_ERROR ? wsadup_error_name(WSAGetLastError()) : "data");
  }
  closesocket(s);
  return got == 0;
}

/* Whether the listener has a WSAEventSelect registration, seen from this
 * process: while one is in effect, made in whichever process through
 * whichever descriptor of the socket, ioctlsocket(FIONBIO, 0) fails with
 * WSAEINVAL. Returns 1 if so; 0 if not, with the listener put back in
 * non-blocking mode; -1 on any other failure. */
static int listener_registered(SOCKET listener) {
  u_long blocking = 0, non_blocking = 1;
  int error;
  if (ioctlsocket(listener, FIONBIO, &blocking) != SOCKET_ERROR) {
    if (ioctlsocket(listener, FIONBIO, &non_blocking) == SOCKET_ERROR) {
      report_error("parent", "ioctlsocket(FIONBIO, 1)", WSAGetLastError());
      return -1;
    }
    return 0;
  }
  error = WSAGetLastError();
  if (error == WSAEINVAL) return 1;
  report_error("parent", "ioctlsocket(FIONBIO, 0)", error);
  return -1;
}

static int run_parent(unsigned connections) {
  WSADATA data;
  SOCKET listener;
  struct sockaddr_in address;
  int address_length = (int)sizeof(address);
  unsigned generation, number = 0, good = 0, failures = 0;
  u_long non_blocking = 1;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener == INVALID_SOCKET ||
      bind(listener, (struct sockaddr*)&address, sizeof(address)) ==
          SOCKET_ERROR ||
      listen(listener, SOMAXCONN) == SOCKET_ERROR ||
      getsockname(listener, (struct sockaddr*)&address, &address_length) ==
          SOCKET_ERROR) {
    report_error("parent", "listening on 127.0.0.1", WSAGetLastError());
    return 2;
  }
  /* As APR makes every socket: the workers get the listener only through
   * WSADuplicateSocket, never by inheritance. */
  if (!SetHandleInformation((HANDLE)listener, HANDLE_FLAG_INHERIT, 0)) {
    report_error("parent", "SetHandleInformation", (int)GetLastError());
    return 2;
  }
  /* Non-blocking, as APR leaves a socket with a zero timeout: each worker
   * must set the mode it wants. On Windows a connection accepted from a
   * non-blocking listener is non-blocking too. */
  if (ioctlsocket(listener, FIONBIO, &non_blocking) == SOCKET_ERROR) {
    report_error("parent", "ioctlsocket(FIONBIO)", WSAGetLastError());
    return 2;
  }

  for (generation = 0; generation < GENERATIONS; ++generation) {
    /* The first worker also gets the idle connection. */
    unsigned requests =
        generation == 0 ? connections / 2 : connections - connections / 2;
    unsigned quota = requests + (generation == 0 ? 1 : 0);
    char quota_text[16];
    const char* args[] = {"--worker", quota_text, NULL};
    child_process worker;
    WSAPROTOCOL_INFO info;
    worker_report report = {0, 0, 0};
    DWORD reported_pid = 0;
    unsigned i;
    int exit_code, working = 1;
    snprintf(quota_text, sizeof(quota_text), "%u", quota);
    if (child_start(args, &worker) != 0) {
      fprintf(stderr, "parent: cannot start a worker\n");
      return 2;
    }
    if (child_read(&worker, &reported_pid, sizeof(reported_pid), WAIT_MS) !=
            0 ||
        reported_pid != worker.pid) {
      fprintf(stderr, "parent: worker %lu did not report ready\n",
              (unsigned long)worker.pid);
      ++failures;
      child_wait(&worker, 0);
      continue;
    }
    /* Apache's send_listeners_to_child. */
    if (WSADuplicateSocket(listener, worker.pid, &info) == SOCKET_ERROR) {
      report_error("parent", "WSADuplicateSocket", WSAGetLastError());
      ++failures;
      child_wait(&worker, 0);
      continue;
    }
    if (child_write(&worker, &info, sizeof(info)) != 0) {
      fprintf(stderr, "parent: cannot write to worker %lu\n",
              (unsigned long)worker.pid);
      ++failures;
    }

    /* After the first failure the rest of this generation's connections
     * count as lost without waiting for each in turn. */
    if (generation == 0) {
      if (idle_connection_closed(&address)) {
        ++good;
      } else {
        ++failures;
        working = 0;
      }
      /* The worker registered before it accepted that connection and keeps
       * the registration until its quota is done: it is in effect on the
       * listener, in this process too. */
      if (working && listener_registered(listener) != 1) {
        fprintf(stderr,
                "parent: ioctlsocket(FIONBIO, 0) on the listener did not "
                "fail with WSAEINVAL while worker %lu's WSAEventSelect was "
                "in effect\n",
                (unsigned long)worker.pid);
        ++failures;
      }
    }
    for (i = 0; i < requests && working; ++i) {
      if (exchange(&address, worker.pid, number + i)) {
        ++good;
      } else {
        ++failures;
        working = 0;
      }
    }
    number += requests;

    if (child_read(&worker, &report, sizeof(report), WAIT_MS) != 0) {
      fprintf(stderr, "parent: no report from worker %lu\n",
              (unsigned long)worker.pid);
      ++failures;
    }
    exit_code = child_wait(&worker, WAIT_MS);
    /* The worker cancelled its registration before it exited. */
    if (listener_registered(listener) != 0) {
      fprintf(stderr,
              "parent: the listener still has a WSAEventSelect registration "
              "after worker %lu exited\n",
              (unsigned long)worker.pid);
      ++failures;
    }
    printf(
        "worker %lu (generation %u): served %lu, idle timeouts %lu, "
        "errors %lu, exit code %d\n",
        (unsigned long)worker.pid, generation + 1, (unsigned long)report.served,
        (unsigned long)report.idle_timeouts, (unsigned long)report.errors,
        exit_code);
    if (exit_code != 0 || report.served != requests ||
        report.idle_timeouts != (generation == 0 ? 1u : 0u)) {
      ++failures;
    }
  }

  closesocket(listener);
  WSACleanup();
  printf("listener handoff: %u/%u connections answered right, %u failures\n",
         good, connections + 1, failures);
  return failures == 0 && good == connections + 1 ? 0 : 1;
}

int main(int argc, char** argv) {
  unsigned connections = 20;
  int i;
  platform_init(argv[0]);
  if (argc == 3 && strcmp(argv[1], "--worker") == 0) {
    return run_worker((unsigned)atoi(argv[2]));
  }
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--connections") == 0) {
      connections = (unsigned)atoi(argv[i + 1]);
    }
  }
  if (connections < 2 || connections > 10000) {
    fprintf(stderr, "usage: %s [--connections 2..10000]\n", argv[0]);
    return 2;
  }
  return run_parent(connections);
}
