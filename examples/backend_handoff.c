/*
 * Connection handoff in the shape of PostgreSQL's postmaster on Windows.
 *
 *   backend_handoff [--connections M]
 *
 * The postmaster listens on 127.0.0.1 and starts a client process (this
 * program again, --client) that opens M connections at once and sends one
 * query on each. For every connection the postmaster accepts, it does what
 * PostgreSQL's internal_forkexec does:
 *   - creates a shared-memory block for the BackendParameters,
 *   - creates the backend process suspended, so that its process id is
 *     known before it runs,
 *   - writes into the block the connection's WSAPROTOCOL_INFO, from
 *     WSADuplicateSocket for that id, and its own socket number
 *     (write_inheritable_socket),
 *   - lets the backend run, and closes its own copy of the connection.
 * The backend finds the block by the name (POSIX) or handle (Windows) on its
 * command line, imports the connection with WSASocket(FROM_PROTOCOL_INFO,
 * ...) (read_inheritable_socket), makes it non-blocking as pg_set_noblock
 * does, and waits for its client as PostgreSQL's WaitEventSet does on
 * Windows: WSAEventSelect(FD_READ | FD_CLOSE) with an event of its own,
 * WSAWaitForMultipleEvents (bounded) and WSAEnumNetworkEvents whenever
 * WSARecv says WSAEWOULDBLOCK. It reads the query with WSARecv until it
 * would block, answers with WSASend, and exits when FD_CLOSE reports the
 * client's graceful close (error 0) and WSARecv its end of stream. The
 * backends run side by side.
 *
 * The client checks every reply. The program exits 0 when all M were right
 * and every process exited cleanly, 1 otherwise. Every wait on another
 * process is bounded.
 *
 * The Winsock code is the same on Windows and POSIX (on POSIX through
 * wsadup's compatibility headers). Starting processes and the shared memory
 * are the porter's own code, in the two platform sections.
 */
/* POSIX.1-2008 with XSI (poll's POLLRDNORM, kill, clock_gettime), also in a
 * strict C99 build. On Windows it changes nothing. */
#define _XOPEN_SOURCE 700

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <ws2tcpip.h>
#include <wsadup/wsadup.h>

/* Every wait on another process (a pipe, a connection, an exit). */
#define WAIT_MS 10000
#define MAX_CONNECTIONS 32
#define MESSAGE_SIZE 256

/* ---------------------------------------------------- platform: process -- */
/* Starting this program again as a child (suspended, if asked, until
 * child_resume), reading its standard output and waiting for its exit, each
 * wait bounded. */
#if defined(_WIN32)
#include <windows.h>

typedef struct child_process {
  HANDLE process;
  HANDLE thread; /* its first thread, until child_resume */
  DWORD pid;
  HANDLE input;  /* our end of the child's standard input */
  HANDLE output; /* our end of the child's standard output */
} child_process;

/* Children are started from GetModuleFileName's path. */
static void platform_init(const char* program) { (void)program; }

/* CREATE_SUSPENDED when suspended: the process exists, with its id, but
 * runs none of its code until child_resume. Every inheritable handle goes to
 * the child (bInheritHandles), as in PostgreSQL: that is how it gets the
 * shared-memory handle named on its command line. */
static int child_start(const char* const* args, int suspended,
                       child_process* child) {
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
  started = CreateProcessA(NULL, command, NULL, NULL, TRUE,
                           suspended ? CREATE_SUSPENDED : 0, NULL, NULL,
                           &startup, &info);
  CloseHandle(child_input);
  CloseHandle(child_output);
  if (child_error != NULL) CloseHandle(child_error);
  if (!started) {
    CloseHandle(child->input);
    CloseHandle(child->output);
    return -1;
  }
  child->process = info.hProcess;
  child->thread = info.hThread;
  child->pid = info.dwProcessId;
  return 0;
}

/* Milliseconds on a clock that only goes forward. */
static unsigned long long clock_ms(void) { return GetTickCount64(); }

static int child_resume(child_process* child) {
  DWORD result = ResumeThread(child->thread);
  CloseHandle(child->thread);
  child->thread = NULL;
  return result == (DWORD)-1 ? -1 : 0;
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

/* The child's exit code, or -1 if it had not exited within timeout_ms (it is
 * then terminated). */
static int child_wait(child_process* child, DWORD timeout_ms) {
  DWORD code = 1;
  int result;
  if (child->thread != NULL) CloseHandle(child->thread);
  CloseHandle(child->input);
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

/* The child's side: its own standard output. */
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

/* When suspended, the child is held between fork and exec, reading one byte
 * from its standard input: like CREATE_SUSPENDED, its process id exists
 * before any of this program's code runs in it. */
static int child_start(const char* const* args, int suspended,
                       child_process* child) {
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
    char go;
    if (suspended) {
      ssize_t got;
      while ((got = read(to_child[0], &go, 1)) < 0 && errno == EINTR) {
      }
      if (got != 1) _exit(125); /* the parent gave up on this child */
    }
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

static int child_resume(child_process* child) {
  char go = 1;
  return write(child->input, &go, 1) == 1 ? 0 : -1;
}

/* Milliseconds on a clock that only goes forward. */
static unsigned long long clock_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (unsigned long long)now.tv_sec * 1000 +
         (unsigned long long)now.tv_nsec / 1000000;
}

/* Reads exactly size bytes of the child's output within timeout_ms; size 0
 * waits for end of file instead. */
static int child_read(child_process* child, void* data, size_t size,
                      DWORD timeout_ms) {
  char* bytes = (char*)data;
  char discard[256];
  unsigned long long deadline = clock_ms() + timeout_ms;
  int to_end = size == 0;
  while (size > 0 || to_end) {
    struct pollfd readable = {child->output, POLLIN, 0};
    int ready;
    unsigned long long now = clock_ms();
    int left = now < deadline ? (int)(deadline - now) : 0;
    ssize_t got;
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

/* The child's exit code, or -1 if it had not exited within timeout_ms (it is
 * then killed). waitpid has no timeout; the end of the child's output, which
 * comes when it exits, bounds the wait instead. */
static int child_wait(child_process* child, DWORD timeout_ms) {
  int status = 0;
  int ended;
  close(child->input); /* a child still held before exec gives up */
  ended = child_read(child, NULL, 0, timeout_ms) == 0;
  if (!ended) kill(child->process, SIGKILL);
  close(child->output);
  while (waitpid(child->process, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ended) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
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

/* ---------------------------------------------- platform: shared memory -- */
/* A block of shared memory the postmaster creates and fills and one backend
 * opens by the name on its command line. */
#if defined(_WIN32)
typedef struct shared_block {
  HANDLE mapping;
  void* memory;
} shared_block;

/* PostgreSQL's way: an unnamed, inheritable file mapping; the backend
 * inherits the handle and finds it by its value, given as the name. */
static int block_create(size_t size, unsigned serial, shared_block* block,
                        char* name, size_t name_size) {
  SECURITY_ATTRIBUTES inheritable = {sizeof(inheritable), NULL, TRUE};
  (void)serial;
  block->mapping = CreateFileMappingA(INVALID_HANDLE_VALUE, &inheritable,
                                      PAGE_READWRITE, 0, (DWORD)size, NULL);
  if (block->mapping == NULL) return -1;
  block->memory = MapViewOfFile(block->mapping, FILE_MAP_WRITE, 0, 0, size);
  if (block->memory == NULL) {
    CloseHandle(block->mapping);
    return -1;
  }
  snprintf(name, name_size, "%llu",
           (unsigned long long)(uintptr_t)block->mapping);
  return 0;
}

static int block_open(const char* name, size_t size, shared_block* block) {
  block->mapping = (HANDLE)(uintptr_t)_strtoui64(name, NULL, 10);
  block->memory = MapViewOfFile(block->mapping, FILE_MAP_WRITE, 0, 0, size);
  return block->memory == NULL ? -1 : 0;
}

/* The mapping itself ends with its last handle: the backend's, inherited. */
static void block_close(shared_block* block, size_t size) {
  (void)size;
  UnmapViewOfFile(block->memory);
  CloseHandle(block->mapping);
}

static void block_remove(const char* name) { (void)name; }

#else /* POSIX */
#include <sys/mman.h>
#include <sys/stat.h>

typedef struct shared_block {
  void* memory;
} shared_block;

static int block_create(size_t size, unsigned serial, shared_block* block,
                        char* name, size_t name_size) {
  int fd;
  snprintf(name, name_size, "/wsadup-backend-%ld-%u", (long)getpid(), serial);
  fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -1;
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    shm_unlink(name);
    return -1;
  }
  block->memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (block->memory == MAP_FAILED) {
    shm_unlink(name);
    return -1;
  }
  return 0;
}

/* The backend removes the name once it has the block open, as a PostgreSQL
 * backend removes its parameter file once read. */
static int block_open(const char* name, size_t size, shared_block* block) {
  int fd = shm_open(name, O_RDWR, 0);
  if (fd < 0) return -1;
  block->memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  shm_unlink(name);
  return block->memory == MAP_FAILED ? -1 : 0;
}

static void block_close(shared_block* block, size_t size) {
  munmap(block->memory, size);
}

/* For a backend that never got to open its block. */
static void block_remove(const char* name) { shm_unlink(name); }
#endif

/* ---------------------------------------------------- backend parameters -- */

#define PARAMETERS_MAGIC 0x50474250u /* "PBGP" */

/* PostgreSQL's InheritableSocket. */
typedef struct inheritable_socket {
  SOCKET origsocket; /* the postmaster's number for the socket */
  WSAPROTOCOL_INFO wsainfo;
} inheritable_socket;

/* The part of PostgreSQL's BackendParameters this example needs; magic is
 * written last, so a backend can tell a block that was filled in. */
typedef struct backend_parameters {
  DWORD magic;
  inheritable_socket client_socket;
} backend_parameters;

static void report_error(const char* who, const char* what, int error) {
  fprintf(stderr, "%s: %s failed: %d (%s)\n", who, what, error,
          wsadup_error_name(error));
}

/* What is left of a wait that ends at deadline (clock_ms), at least 1 ms:
 * several waits in a row share one bound. */
static DWORD remaining_ms(unsigned long long deadline) {
  unsigned long long now = clock_ms();
  return now + 1 < deadline ? (DWORD)(deadline - now) : 1;
}

/* PostgreSQL's write_inheritable_socket. */
static int write_inheritable_socket(inheritable_socket* destination,
                                    SOCKET source, DWORD child_pid) {
  destination->origsocket = source;
  if (WSADuplicateSocket(source, child_pid, &destination->wsainfo) != 0) {
    fprintf(stderr,
            "postmaster: could not duplicate socket %d for use in backend: "
            "error code %d\n",
            (int)source, WSAGetLastError());
    return -1;
  }
  return 0;
}

/* PostgreSQL's read_inheritable_socket. PostgreSQL then also closes
 * origsocket, in case the handle came by inheritance as well. Not here: the
 * postmaster made the connection non-inheritable before starting this
 * process, so the token is its only way in, and on POSIX the number is
 * whatever descriptor this process happens to have under it. */
static SOCKET read_inheritable_socket(inheritable_socket* source) {
  SOCKET s = WSASocket(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                       FROM_PROTOCOL_INFO, &source->wsainfo, 0, 0);
  if (s == INVALID_SOCKET) {
    fprintf(stderr,
            "backend: could not create inherited socket: error code "
            "%d (%s)\n",
            WSAGetLastError(), wsadup_error_name(WSAGetLastError()));
  }
  return s;
}

/* ------------------------------------------------------------- messages -- */
/* A message is a type byte and a 32-bit big-endian length that counts
 * itself, then the payload, as in PostgreSQL's protocol. */

static int frame(char type, const char* payload, char* message) {
  size_t length = strlen(payload);
  uint32_t counted = htonl((uint32_t)(4 + length));
  message[0] = type;
  memcpy(message + 1, &counted, 4);
  memcpy(message + 5, payload, length);
  return (int)(5 + length);
}

/* ------------------------------------------------------------- backend -- */

/* The backend's connection and what its waits have learnt about it. */
typedef struct client_port {
  SOCKET socket;
  WSAEVENT event; /* registered for FD_READ | FD_CLOSE */
  int closed;     /* FD_CLOSE was reported with error 0 */
} client_port;

/* Waits, at most WAIT_MS, until the client's socket has something to read
 * or has closed, as PostgreSQL's WaitEventSetWait does on Windows: it waits
 * on the event registered with WSAEventSelect, then takes the socket's
 * record with WSAEnumNetworkEvents, which clears it and resets the event in
 * the same step. FD_CLOSE with error 0 is the client's graceful close: the
 * data sent before it is still there to read, and recv returns 0 after it.
 * Any other error there is a reset or an abort. */
static int wait_client(client_port* port) {
  unsigned long long deadline = clock_ms() + WAIT_MS;
  for (;;) {
    WSANETWORKEVENTS happened;
    DWORD result = WSAWaitForMultipleEvents(1, &port->event, FALSE,
                                            remaining_ms(deadline), FALSE);
    if (result == WSA_WAIT_TIMEOUT) {
      fprintf(stderr, "backend: the client said nothing for %d ms\n", WAIT_MS);
      return -1;
    }
    if (result != WSA_WAIT_EVENT_0) {
      report_error("backend", "WSAWaitForMultipleEvents", WSAGetLastError());
      return -1;
    }
    if (WSAEnumNetworkEvents(port->socket, port->event, &happened) ==
        SOCKET_ERROR) {
      report_error("backend", "WSAEnumNetworkEvents", WSAGetLastError());
      return -1;
    }
    if ((happened.lNetworkEvents & FD_READ) != 0 &&
        happened.iErrorCode[FD_READ_BIT] != 0) {
      report_error("backend", "FD_READ", happened.iErrorCode[FD_READ_BIT]);
      return -1;
    }
    if ((happened.lNetworkEvents & FD_CLOSE) != 0) {
      int error = happened.iErrorCode[FD_CLOSE_BIT];
      if (error != 0) {
        fprintf(stderr, "backend: FD_CLOSE with %d (%s): %s\n", error,
                wsadup_error_name(error),
                error == WSAECONNRESET ? "the client reset the connection"
                                       : "the connection was lost");
        return -1;
      }
      port->closed = 1;
    }
    /* An empty record is a wake-up for an event already taken (FD_READ
     * recorded when the data was there, then read): wait on. */
    if ((happened.lNetworkEvents & (FD_READ | FD_CLOSE)) != 0) return 0;
  }
}

/* Waits, at most WAIT_MS, until s is writable (POLLWRNORM). A reply this
 * small fits the send buffer; should it not, WSAPoll waits for room, which
 * it can on a registered socket. FD_WRITE would need the registration
 * changed (PostgreSQL's ModifyWaitEvent), since it is recorded only after a
 * send has failed with WSAEWOULDBLOCK. */
static int wait_writable(SOCKET s) {
  WSAPOLLFD poll_entry;
  int ready;
  poll_entry.fd = s;
  poll_entry.events = POLLWRNORM;
  poll_entry.revents = 0;
  ready = WSAPoll(&poll_entry, 1, WAIT_MS);
  if (ready == SOCKET_ERROR) {
    report_error("backend", "WSAPoll", WSAGetLastError());
    return -1;
  }
  if (ready == 0) {
    fprintf(stderr, "backend: the client took nothing for %d ms\n", WAIT_MS);
    return -1;
  }
  return 0;
}

/* Receives into buffer, waiting while the socket would block: it is
 * non-blocking while registered. Returns the byte count, 0 at the client's
 * end of stream, -1 on failure. Each WSARecv, even one that fails with
 * WSAEWOULDBLOCK, re-enables FD_READ, so data that comes later records it
 * again. */
static int backend_receive(client_port* port, char* buffer, ULONG size) {
  for (;;) {
    WSABUF piece;
    DWORD received = 0, flags = 0;
    int error;
    piece.len = size;
    piece.buf = buffer;
    if (WSARecv(port->socket, &piece, 1, &received, &flags, NULL, NULL) == 0) {
      return (int)received;
    }
    error = WSAGetLastError();
    if (error == WSAEWOULDBLOCK) {
      /* After FD_CLOSE only the end of stream is left to read. */
      if (port->closed) {
        fprintf(stderr,
                "backend: WSARecv would block after a graceful FD_CLOSE\n");
        return -1;
      }
      if (wait_client(port) != 0) return -1;
      continue;
    }
    if (error == WSAECONNRESET) {
      fprintf(stderr, "backend: the client reset the connection\n");
    } else {
      report_error("backend", "WSARecv", error);
    }
    return -1;
  }
}

/* Sends the header and the payload as two buffers with WSASend, picking up
 * where a partial send stopped and waiting while the socket would block. */
static int backend_send(SOCKET s, char* header, ULONG header_size,
                        char* payload, ULONG payload_size) {
  WSABUF pieces[2];
  WSABUF* next = pieces;
  DWORD count = 2;
  pieces[0].len = header_size;
  pieces[0].buf = header;
  pieces[1].len = payload_size;
  pieces[1].buf = payload;
  while (count > 0) {
    DWORD sent = 0;
    int error;
    if (WSASend(s, next, count, &sent, 0, NULL, NULL) == 0) {
      while (count > 0 && sent >= next->len) {
        sent -= next->len;
        ++next;
        --count;
      }
      if (count > 0) {
        next->buf += sent;
        next->len -= sent;
      }
      continue;
    }
    error = WSAGetLastError();
    if (error == WSAEWOULDBLOCK) {
      if (wait_writable(s) != 0) return -1;
      continue;
    }
    report_error("backend",
                 error == WSAECONNRESET ? "WSASend (reset)" : "WSASend", error);
    return -1;
  }
  return 0;
}

/* One session on the imported connection: a query, its reply, and the
 * client's close. Returns the backend's exit code. */
static int serve_session(client_port* port) {
  char message[MESSAGE_SIZE + 8], reply[MESSAGE_SIZE + 8];
  char header[5];
  int length = 0, query_length;
  uint32_t counted = 0;
  /* PostgreSQL's FeBeWaitSet: a readable socket is FD_READ, and FD_CLOSE
   * is always asked for, for the end of stream and errors. The
   * registration keeps the socket non-blocking. */
  if (WSAEventSelect(port->socket, port->event, FD_READ | FD_CLOSE) ==
      SOCKET_ERROR) {
    report_error("backend", "WSAEventSelect(FD_READ | FD_CLOSE)",
                 WSAGetLastError());
    return 2;
  }

  /* One query: the type byte and length first, then the rest. */
  while (length < 5 || length < 1 + (int)ntohl(counted)) {
    int got = backend_receive(port, message + length,
                              (ULONG)(sizeof(message) - (size_t)length));
    if (got <= 0) {
      if (got == 0) fprintf(stderr, "backend: the client left early\n");
      return 1;
    }
    length += got;
    if (length >= 5) {
      memcpy(&counted, message + 1, 4);
      if (message[0] != 'Q' || ntohl(counted) < 4 ||
          ntohl(counted) > MESSAGE_SIZE) {
        fprintf(stderr, "backend: not a query\n");
        return 1;
      }
    }
  }
  query_length = (int)ntohl(counted) - 4;
  /* The reply: "ok: <query>" as a 'C' message, its header and its payload
   * sent as two buffers. */
  memcpy(reply, "ok: ", 4);
  memcpy(reply + 4, message + 5, (size_t)query_length);
  counted = htonl((uint32_t)(4 + 4 + query_length));
  header[0] = 'C';
  memcpy(header + 1, &counted, 4);
  if (backend_send(port->socket, header, 5, reply, (ULONG)(4 + query_length)) !=
      0) {
    return 1;
  }
  /* The client ends the session by closing its end: WSARecv returns 0, and
   * FD_CLOSE with error 0 says the close was graceful. It may come before
   * the end of stream is read or after it; the session ends with both. */
  if (backend_receive(port, message, sizeof(message)) != 0) {
    fprintf(stderr, "backend: the client did not close the session\n");
    return 1;
  }
  while (!port->closed) {
    if (wait_client(port) != 0) {
      fprintf(stderr, "backend: no FD_CLOSE after the end of stream\n");
      return 1;
    }
  }
  return 0;
}

static int run_backend(const char* block_name) {
  WSADATA data;
  shared_block block;
  backend_parameters parameters;
  client_port port;
  u_long non_blocking = 1;
  int exit_code;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  /* read_backend_variables: copy the block and let it go. */
  if (block_open(block_name, sizeof(parameters), &block) != 0) {
    fprintf(stderr, "backend: cannot open the parameter block %s\n",
            block_name);
    return 2;
  }
  memcpy(&parameters, block.memory, sizeof(parameters));
  block_close(&block, sizeof(parameters));
  if (parameters.magic != PARAMETERS_MAGIC) {
    fprintf(stderr, "backend: the parameter block is not filled in\n");
    return 2;
  }
  port.socket = read_inheritable_socket(&parameters.client_socket);
  if (port.socket == INVALID_SOCKET) return 2;
  port.closed = 0;
  /* pg_set_noblock. */
  if (ioctlsocket(port.socket, FIONBIO, &non_blocking) == SOCKET_ERROR) {
    report_error("backend", "ioctlsocket(FIONBIO)", WSAGetLastError());
    return 2;
  }
  port.event = WSACreateEvent();
  if (port.event == WSA_INVALID_EVENT) {
    report_error("backend", "WSACreateEvent", WSAGetLastError());
    return 2;
  }
  exit_code = serve_session(&port);
  /* closesocket ends the registration; the event is still to be closed. */
  closesocket(port.socket);
  if (!WSACloseEvent(port.event)) {
    report_error("backend", "WSACloseEvent", WSAGetLastError());
    if (exit_code == 0) exit_code = 1;
  }
  WSACleanup();
  return exit_code;
}

/* -------------------------------------------------------------- client -- */

static int run_client(unsigned short port_number, unsigned count) {
  WSADATA data;
  struct sockaddr_in address;
  SOCKET connection[MAX_CONNECTIONS];
  DWORD result[2] = {0, 0}; /* right replies, wrong or missing ones */
  DWORD timeout = WAIT_MS;
  unsigned long long deadline;
  unsigned i;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_port = htons(port_number);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* All connections first, so that the backends run side by side. */
  for (i = 0; i < count; ++i) {
    char payload[64], message[MESSAGE_SIZE];
    int length;
    snprintf(payload, sizeof(payload), "SELECT %u", i);
    length = frame('Q', payload, message);
    connection[i] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (connection[i] == INVALID_SOCKET) {
      report_error("client", "socket", WSAGetLastError());
      continue;
    }
    /* A reply that never comes is a failure after WAIT_MS, not a hang. */
    if (setsockopt(connection[i], SOL_SOCKET, SO_RCVTIMEO,
                   (const char*)&timeout, sizeof(timeout)) == SOCKET_ERROR ||
        connect(connection[i], (struct sockaddr*)&address, sizeof(address)) ==
            SOCKET_ERROR ||
        send(connection[i], message, length, 0) != length) {
      report_error("client", "connect and send", WSAGetLastError());
      closesocket(connection[i]);
      connection[i] = INVALID_SOCKET;
    }
  }
  /* All replies within one WAIT_MS, however many are missing. */
  deadline = clock_ms() + WAIT_MS;
  for (i = 0; i < count; ++i) {
    char expected[MESSAGE_SIZE], payload[64], reply[MESSAGE_SIZE];
    int expected_length, length = 0;
    if (connection[i] == INVALID_SOCKET) {
      ++result[1];
      continue;
    }
    timeout = remaining_ms(deadline);
    setsockopt(connection[i], SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
               sizeof(timeout));
    snprintf(payload, sizeof(payload), "ok: SELECT %u", i);
    expected_length = frame('C', payload, expected);
    while (length < expected_length) {
      int got =
          recv(connection[i], reply + length, expected_length - length, 0);
      if (got == SOCKET_ERROR) {
        report_error("client", "recv", WSAGetLastError());
        break;
      }
      if (got == 0) break;
      length += got;
    }
    if (length == expected_length &&
        memcmp(reply, expected, (size_t)expected_length) == 0) {
      ++result[0];
    } else {
      fprintf(stderr, "client: connection %u: wrong or missing reply\n", i);
      ++result[1];
    }
    closesocket(connection[i]);
  }
  parent_write(result, sizeof(result));
  WSACleanup();
  return 0;
}

/* ---------------------------------------------------------- postmaster -- */

/* Starts the backend for one accepted connection, as PostgreSQL's
 * internal_forkexec does on Windows. Returns 0 if it is running. */
static int start_backend(SOCKET connection, unsigned slot,
                         child_process* backend, char* block_name,
                         size_t block_name_size) {
  shared_block block;
  backend_parameters* parameters;
  const char* args[] = {"--backend", block_name, NULL};
  if (block_create(sizeof(backend_parameters), slot, &block, block_name,
                   block_name_size) != 0) {
    fprintf(stderr, "postmaster: cannot create a parameter block\n");
    return -1;
  }
  if (child_start(args, 1, backend) != 0) {
    fprintf(stderr, "postmaster: cannot start a backend\n");
    block_close(&block, sizeof(backend_parameters));
    block_remove(block_name);
    return -1;
  }
  /* The backend exists but runs nothing yet: its parameters, the token
   * made for its process id among them, are in place before it looks. */
  parameters = (backend_parameters*)block.memory;
  memset(parameters, 0, sizeof(*parameters));
  if (write_inheritable_socket(&parameters->client_socket, connection,
                               backend->pid) != 0) {
    block_close(&block, sizeof(backend_parameters));
    child_wait(backend, 0);
    block_remove(block_name);
    return -1;
  }
  parameters->magic = PARAMETERS_MAGIC;
  block_close(&block, sizeof(backend_parameters));
  if (child_resume(backend) != 0) {
    fprintf(stderr, "postmaster: cannot resume backend %lu\n",
            (unsigned long)backend->pid);
    child_wait(backend, 0);
    block_remove(block_name);
    return -1;
  }
  return 0;
}

static int run_postmaster(unsigned count) {
  WSADATA data;
  SOCKET listener;
  struct sockaddr_in address;
  int address_length = (int)sizeof(address);
  child_process client, backend[MAX_CONNECTIONS];
  char block_name[MAX_CONNECTIONS][64];
  int started[MAX_CONNECTIONS];
  DWORD client_result[2] = {0, 0};
  char port_text[16], count_text[16];
  const char* client_args[] = {"--client", port_text, count_text, NULL};
  unsigned long long deadline;
  unsigned i, failures = 0;
  int client_exit;
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
    report_error("postmaster", "listening on 127.0.0.1", WSAGetLastError());
    return 2;
  }
  /* No child of the postmaster holds the listener. */
  if (!SetHandleInformation((HANDLE)listener, HANDLE_FLAG_INHERIT, 0)) {
    report_error("postmaster", "SetHandleInformation", (int)GetLastError());
    return 2;
  }
  snprintf(port_text, sizeof(port_text), "%u",
           (unsigned)ntohs(address.sin_port));
  snprintf(count_text, sizeof(count_text), "%u", count);
  if (child_start(client_args, 0, &client) != 0) {
    fprintf(stderr, "postmaster: cannot start the client\n");
    return 2;
  }

  memset(started, 0, sizeof(started));
  for (i = 0; i < count; ++i) {
    fd_set readable;
    struct timeval wait = {WAIT_MS / 1000, 0};
    struct sockaddr_in peer;
    int peer_length = (int)sizeof(peer);
    SOCKET connection;
    int ready;
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    ready = select(0, &readable, NULL, NULL, &wait);
    if (ready == SOCKET_ERROR || ready == 0) {
      fprintf(stderr, "postmaster: no connection within %d ms (%s)\n", WAIT_MS,
              ready == 0 ? "timeout" : wsadup_error_name(WSAGetLastError()));
      ++failures;
      break;
    }
    connection = accept(listener, (struct sockaddr*)&peer, &peer_length);
    if (connection == INVALID_SOCKET) {
      report_error("postmaster", "accept", WSAGetLastError());
      ++failures;
      continue;
    }
    /* The backend gets the connection through its parameters only: a copy
     * inherited besides would keep the connection open behind its back. */
    if (!SetHandleInformation((HANDLE)connection, HANDLE_FLAG_INHERIT, 0)) {
      report_error("postmaster", "SetHandleInformation", (int)GetLastError());
      ++failures;
    } else if (start_backend(connection, i, &backend[i], block_name[i],
                             sizeof(block_name[i])) != 0) {
      ++failures;
    } else {
      started[i] = 1;
    }
    /* The backend holds its own socket now; the postmaster lets go. */
    closesocket(connection);
  }

  if (child_read(&client, client_result, sizeof(client_result), WAIT_MS) != 0) {
    fprintf(stderr, "postmaster: no result from the client\n");
    client_result[1] = count;
  }
  client_exit = child_wait(&client, WAIT_MS);
  /* All backends within one WAIT_MS. */
  deadline = clock_ms() + WAIT_MS;
  for (i = 0; i < count; ++i) {
    int exit_code;
    if (!started[i]) continue;
    exit_code = child_wait(&backend[i], remaining_ms(deadline));
    block_remove(block_name[i]);
    printf("backend %lu (slot %u): exit code %d\n",
           (unsigned long)backend[i].pid, i, exit_code);
    if (exit_code != 0) ++failures;
  }
  closesocket(listener);
  WSACleanup();
  printf(
      "backend handoff: %lu/%u replies right, %lu wrong or missing, "
      "%u failures\n",
      (unsigned long)client_result[0], count, (unsigned long)client_result[1],
      failures);
  return failures == 0 && client_exit == 0 && client_result[0] == count ? 0 : 1;
}

int main(int argc, char** argv) {
  unsigned count = 8;
  int i;
  platform_init(argv[0]);
  if (argc == 3 && strcmp(argv[1], "--backend") == 0) {
    return run_backend(argv[2]);
  }
  if (argc == 4 && strcmp(argv[1], "--client") == 0) {
    return run_client((unsigned short)atoi(argv[2]), (unsigned)atoi(argv[3]));
  }
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--connections") == 0) {
      count = (unsigned)atoi(argv[i + 1]);
    }
  }
  if (count == 0 || count > MAX_CONNECTIONS) {
    fprintf(stderr, "usage: %s [--connections 1..%d]\n", argv[0],
            MAX_CONNECTIONS);
    return 2;
  }
  return run_postmaster(count);
}
