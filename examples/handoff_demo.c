/*
 * The handoff demo: a Winsock-style dispatcher that accepts connections on
 * 127.0.0.1 and hands each one to a worker process with WSADuplicateSocket.
 *
 *   wsadup_handoff_demo [--connections N] [--workers W] [--stall-worker K]
 *
 * The dispatcher starts W worker processes and a client process (this same
 * program, re-run with --worker / --client), learns each worker's process id
 * over a pipe, and for every accepted connection: WSADuplicateSocket for the
 * worker, writes the WSAPROTOCOL_INFO bytes to the worker's pipe, waits for
 * the worker's one-byte acknowledgement, and closes its own descriptor. Each
 * worker imports with WSASocket(FROM_PROTOCOL_INFO, ...) and echoes. The
 * client checks every reply. The dispatcher prints a table per worker and
 * exits non-zero on any lost or wrong reply.
 *
 * --stall-worker K stops worker K (SIGSTOP; SuspendThread on Windows) for a
 * second halfway through the run, as a debugger or an overloaded machine
 * would. WSADuplicateSocket does not wait for the worker it hands to, so the
 * dispatcher goes on serving the others at their usual latency; it hands the
 * stopped worker its share too (the tokens wait in the dispatcher's memory,
 * since a pipe to a process that does not run fills up: 4 KiB on Windows),
 * and writes them and collects that worker's acknowledgements once it runs
 * again. Every connection must still be served in the end.
 *
 * The Winsock code is the same on Windows and POSIX; only starting processes
 * and reading pipes differ, in the small platform section below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wsadup/wsadup.h>

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#define read_fd _read
#define write_fd _write
#else
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define read_fd read
#define write_fd write
#endif

#define MAX_WORKERS 64
/* Connections the client keeps open at once (below Windows' FD_SETSIZE). */
#define WINDOW 48
#define MESSAGE_SIZE 64

/* ------------------------------------------------------------ platform -- */

typedef struct child_process {
  int input;  /* we write here: the child's standard input */
  int output; /* we read here: the child's standard output */
#if defined(_WIN32)
  HANDLE process;
  HANDLE thread; /* its only thread: what --stall-worker suspends */
#else
  pid_t pid;
#endif
} child_process;

static double now_microseconds(void) {
#if defined(_WIN32)
  LARGE_INTEGER counter, frequency;
  QueryPerformanceCounter(&counter);
  QueryPerformanceFrequency(&frequency);
  return (double)counter.QuadPart * 1e6 / (double)frequency.QuadPart;
#else
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
#endif
}

static uint32_t own_process_id(void) {
#if defined(_WIN32)
  return (uint32_t)GetCurrentProcessId();
#else
  return (uint32_t)getpid();
#endif
}

/* Starts this program again with the given arguments, its standard input and
 * output connected to pipes. Returns 0 on success. */
static int spawn_self(const char* self, const char* const* args,
                      child_process* child) {
#if defined(_WIN32)
  SECURITY_ATTRIBUTES inherit = {sizeof(inherit), NULL, TRUE};
  HANDLE in_read, in_write, out_read, out_write;
  STARTUPINFOA startup;
  PROCESS_INFORMATION info;
  char command[1024];
  char path[MAX_PATH];
  int i;
  (void)self;
  GetModuleFileNameA(NULL, path, MAX_PATH);
  snprintf(command, sizeof(command), "\"%s\"", path);
  for (i = 0; args[i] != NULL; ++i) {
    strncat(command, " ", sizeof(command) - strlen(command) - 1);
    strncat(command, args[i], sizeof(command) - strlen(command) - 1);
  }
  if (!CreatePipe(&in_read, &in_write, &inherit, 0)) return -1;
  if (!CreatePipe(&out_read, &out_write, &inherit, 0)) return -1;
  SetHandleInformation(in_write, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(out_read, HANDLE_FLAG_INHERIT, 0);
  memset(&startup, 0, sizeof(startup));
  startup.cb = sizeof(startup);
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = in_read;
  startup.hStdOutput = out_write;
  startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  if (!CreateProcessA(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL,
                      &startup, &info)) {
    return -1;
  }
  child->thread = info.hThread;
  CloseHandle(in_read);
  CloseHandle(out_write);
  child->process = info.hProcess;
  child->input = _open_osfhandle((intptr_t)in_write, _O_BINARY);
  child->output = _open_osfhandle((intptr_t)out_read, _O_BINARY | _O_RDONLY);
  return 0;
#else
  int to_child[2], from_child[2];
  const char* argv[16];
  int i;
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return -1;
  /* Close-on-exec, so that later children do not inherit this child's pipe
   * ends (a worker would then never see end of file on its input). dup2
   * clears the flag on the copies the child keeps as 0 and 1. */
  for (i = 0; i < 2; ++i) {
    fcntl(to_child[i], F_SETFD, FD_CLOEXEC);
    fcntl(from_child[i], F_SETFD, FD_CLOEXEC);
  }
  argv[0] = self;
  for (i = 0; args[i] != NULL && i < 14; ++i) argv[i + 1] = args[i];
  argv[i + 1] = NULL;
  child->pid = fork();
  if (child->pid < 0) return -1;
  if (child->pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    execv("/proc/self/exe", (char* const*)argv);
    _exit(126);
  }
  close(to_child[0]);
  close(from_child[1]);
  child->input = to_child[1];
  child->output = from_child[0];
  return 0;
#endif
}

/* Stops (stopped != 0) or resumes the child. Returns 0 on success. */
static int stop_child(child_process* child, int stopped) {
#if defined(_WIN32)
  DWORD count = stopped ? SuspendThread(child->thread)
                        : ResumeThread(child->thread);
  return count == (DWORD)-1 ? -1 : 0;
#else
  return kill(child->pid, stopped ? SIGSTOP : SIGCONT);
#endif
}

static int wait_child(child_process* child) {
#if defined(_WIN32)
  DWORD code = 1;
  WaitForSingleObject(child->process, 60000);
  GetExitCodeProcess(child->process, &code);
  CloseHandle(child->process);
  CloseHandle(child->thread);
  return (int)code;
#else
  int status = 0;
  if (waitpid(child->pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
#endif
}

static int read_all(int fd, void* data, size_t size) {
  char* bytes = (char*)data;
  while (size > 0) {
    int got = (int)read_fd(fd, bytes, (unsigned)size);
    if (got <= 0) return -1;
    bytes += got;
    size -= (size_t)got;
  }
  return 0;
}

static int write_all(int fd, const void* data, size_t size) {
  const char* bytes = (const char*)data;
  while (size > 0) {
    int put = (int)write_fd(fd, bytes, (unsigned)size);
    if (put <= 0) return -1;
    bytes += put;
    size -= (size_t)put;
  }
  return 0;
}

/* -------------------------------------------------------------- worker -- */

typedef struct worker_stats {
  uint32_t connections;
  uint32_t errors;
  uint64_t bytes;
} worker_stats;

static int run_worker(void) {
  WSADATA data;
  WSAPROTOCOL_INFOA info;
  worker_stats stats = {0, 0, 0};
  uint32_t pid = own_process_id();
#if defined(_WIN32)
  _setmode(0, _O_BINARY);
  _setmode(1, _O_BINARY);
#endif
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (write_all(1, &pid, sizeof(pid)) != 0) return 2;
  while (read_all(0, &info, sizeof(info)) == 0) {
    SOCKET s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                          FROM_PROTOCOL_INFO, &info, 0, WSA_FLAG_OVERLAPPED);
    unsigned char ack = s == INVALID_SOCKET ? 0 : 1;
    if (write_all(1, &ack, 1) != 0) break;
    if (s == INVALID_SOCKET) {
      fprintf(stderr, "worker %u: WSASocket failed: %s\n", (unsigned)pid,
              wsadup_error_name(WSAGetLastError()));
      ++stats.errors;
      continue;
    }
    ++stats.connections;
    for (;;) {
      char buffer[4096];
      int n = recv(s, buffer, sizeof(buffer), 0);
      if (n == 0) break;
      if (n < 0 || send(s, buffer, n, 0) != n) {
        ++stats.errors;
        break;
      }
      stats.bytes += (uint64_t)n;
    }
    closesocket(s);
  }
  write_all(1, &stats, sizeof(stats));
  WSACleanup();
  return 0;
}

/* -------------------------------------------------------------- client -- */

static void make_message(unsigned i, char* message) {
  unsigned j;
  snprintf(message, MESSAGE_SIZE, "connection-%06u:", i);
  for (j = (unsigned)strlen(message); j < MESSAGE_SIZE; ++j) {
    message[j] = (char)('a' + (i + j) % 26);
  }
}

/* Opens connection i and sends its message, then ends its side. Returns the
 * socket, or INVALID_SOCKET. */
static SOCKET open_connection(const struct sockaddr_in* address, unsigned i) {
  char message[MESSAGE_SIZE];
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
  if (s == INVALID_SOCKET) return INVALID_SOCKET;
  make_message(i, message);
  if (connect(s, (const struct sockaddr*)address, sizeof(*address)) != 0 ||
      send(s, message, MESSAGE_SIZE, 0) != MESSAGE_SIZE) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  shutdown(s, SD_SEND);
  return s;
}

/* Keeps WINDOW connections open at once and reads whichever answers, so
 * that one slow worker (--stall-worker) holds only its own connections back.
 * A reply or an end of stream that never comes is a failure after 10 s, not
 * a hang. */
static int run_client(unsigned short port, unsigned count) {
  WSADATA data;
  struct sockaddr_in address;
  uint32_t result[2] = {0, 0}; /* good replies, bad replies */
  SOCKET open[WINDOW];
  unsigned number[WINDOW];
  int got[WINDOW];
  char reply[WINDOW][MESSAGE_SIZE + 1];
  unsigned next = 0, finished = 0, slot;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (slot = 0; slot < WINDOW; ++slot) open[slot] = INVALID_SOCKET;
  while (finished < count) {
    fd_set readable;
    struct timeval timeout = {10, 0};
    int highest = 0, ready;
    FD_ZERO(&readable);
    for (slot = 0; slot < WINDOW; ++slot) {
      if (open[slot] == INVALID_SOCKET && next < count) {
        number[slot] = next;
        got[slot] = 0;
        open[slot] = open_connection(&address, next++);
        if (open[slot] == INVALID_SOCKET) {
          ++result[1];
          ++finished;
          continue;
        }
      }
      if (open[slot] != INVALID_SOCKET) {
        FD_SET(open[slot], &readable);
        if ((int)open[slot] > highest) highest = (int)open[slot];
      }
    }
    if (finished == count) break;
    ready = select(highest + 1, &readable, NULL, NULL, &timeout);
    if (ready <= 0) {
      result[1] += count - finished; /* nothing answered for 10 s */
      break;
    }
    for (slot = 0; slot < WINDOW; ++slot) {
      char expected[MESSAGE_SIZE];
      int r;
      if (open[slot] == INVALID_SOCKET || !FD_ISSET(open[slot], &readable)) {
        continue;
      }
      r = recv(open[slot], reply[slot] + got[slot],
               (int)sizeof(reply[slot]) - got[slot], 0);
      if (r > 0) got[slot] += r;
      if (r > 0 && got[slot] < (int)sizeof(reply[slot])) continue;
      make_message(number[slot], expected);
      if (got[slot] == MESSAGE_SIZE &&
          memcmp(reply[slot], expected, MESSAGE_SIZE) == 0) {
        ++result[0];
      } else {
        ++result[1];
      }
      closesocket(open[slot]);
      open[slot] = INVALID_SOCKET;
      ++finished;
    }
  }
  for (slot = 0; slot < WINDOW; ++slot) {
    if (open[slot] != INVALID_SOCKET) closesocket(open[slot]);
  }
  write_all(1, result, sizeof(result));
  WSACleanup();
  return 0;
}

/* ---------------------------------------------------------- dispatcher -- */

static int compare_doubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

static double percentile(double* values, unsigned count, double p) {
  unsigned index;
  if (count == 0) return 0.0;
  qsort(values, count, sizeof(double), compare_doubles);
  index = (unsigned)(p * (count - 1) + 0.5);
  return values[index];
}

#define STALL_MICROSECONDS 1e6

/* Resumes the stopped worker and sends it the tokens held for it. Returns
 * the number that could not be sent. */
static unsigned resume_worker(child_process* child, WSAPROTOCOL_INFOA* held,
                              unsigned* held_count) {
  unsigned i, failed = 0;
  stop_child(child, 0);
  for (i = 0; i < *held_count; ++i) {
    if (write_all(child->input, &held[i], sizeof(held[i])) != 0) ++failed;
  }
  *held_count = 0;
  return failed;
}

static int run_dispatcher(const char* self, unsigned count, unsigned workers,
                          int stall_worker) {
  WSADATA data;
  SOCKET listener;
  struct sockaddr_in address;
#if defined(_WIN32)
  int length = sizeof(address);
#else
  socklen_t length = sizeof(address);
#endif
  child_process worker[MAX_WORKERS], client;
  uint32_t worker_pid[MAX_WORKERS];
  worker_stats stats[MAX_WORKERS];
  unsigned handed[MAX_WORKERS];
  unsigned owed[MAX_WORKERS]; /* acknowledgements not read yet */
  double* latency[MAX_WORKERS];
  double* others_in_stall; /* other workers' handoffs while one is stopped */
  WSAPROTOCOL_INFOA* held;  /* tokens for the stopped worker, not sent yet */
  unsigned held_count = 0;
  unsigned in_stall = 0;
  double stall_start = 0.0;
  int stalled = 0;
  uint32_t client_result[2] = {0, 0};
  unsigned i, dispatch_errors = 0, served = 0;
  uint32_t total_errors = 0;
  char port_text[16], count_text[16];
  const char* worker_args[] = {"--worker", NULL};
  const char* client_args[] = {"--client", port_text, count_text, NULL};

  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  listener = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener == INVALID_SOCKET ||
      bind(listener, (struct sockaddr*)&address, sizeof(address)) != 0 ||
      listen(listener, 128) != 0 ||
      getsockname(listener, (struct sockaddr*)&address, &length) != 0) {
    fprintf(stderr, "dispatcher: cannot listen on 127.0.0.1\n");
    return 2;
  }
  for (i = 0; i < workers; ++i) {
    if (spawn_self(self, worker_args, &worker[i]) != 0 ||
        read_all(worker[i].output, &worker_pid[i], sizeof(uint32_t)) != 0) {
      fprintf(stderr, "dispatcher: worker %u did not start\n", i);
      return 2;
    }
    handed[i] = 0;
    owed[i] = 0;
    latency[i] = (double*)calloc(count + 1, sizeof(double));
  }
  others_in_stall = (double*)calloc(count + 1, sizeof(double));
  held = (WSAPROTOCOL_INFOA*)calloc(count + 1, sizeof(WSAPROTOCOL_INFOA));
  snprintf(port_text, sizeof(port_text), "%u", (unsigned)ntohs(address.sin_port));
  snprintf(count_text, sizeof(count_text), "%u", count);
  if (spawn_self(self, client_args, &client) != 0) return 2;

  for (i = 0; i < count; ++i) {
    unsigned w = i % workers;
    WSAPROTOCOL_INFOA info;
    unsigned char ack = 0;
    double start, spent;
    fd_set readable;
    struct timeval timeout = {30, 0};
    SOCKET connection;
    if (stall_worker >= 0 && !stalled && stall_start == 0.0 &&
        i == count / 2) {
      if (stop_child(&worker[stall_worker], 1) != 0) {
        fprintf(stderr, "dispatcher: cannot stop worker %d\n", stall_worker);
        ++dispatch_errors;
      } else {
        stalled = 1;
        stall_start = now_microseconds();
      }
    }
    if (stalled) {
      double left = STALL_MICROSECONDS - (now_microseconds() - stall_start);
      if (left <= 0) {
        dispatch_errors += resume_worker(&worker[stall_worker], held, &held_count);
        stalled = 0;
      } else {
        timeout.tv_sec = (long)(left / 1e6);
        timeout.tv_usec = (long)(left - (double)timeout.tv_sec * 1e6);
      }
    }
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    {
      int ready = select((int)listener + 1, &readable, NULL, NULL, &timeout);
      if (ready == 0 && stalled) {
        --i; /* the second is over: resume, then wait for this one again */
        continue;
      }
      if (ready <= 0) {
        fprintf(stderr, "dispatcher: no connection within 30 s\n");
        break;
      }
    }
    connection = accept(listener, NULL, NULL);
    if (connection == INVALID_SOCKET) {
      ++dispatch_errors;
      continue;
    }
    /* A running worker first gets its acknowledgements owed from the stall
     * read: it has answered them by now or will at once. */
    while (!(stalled && (int)w == stall_worker) && owed[w] > 0) {
      if (read_all(worker[w].output, &ack, 1) != 0 || ack != 1) {
        ++dispatch_errors;
      }
      --owed[w];
    }
    start = now_microseconds();
    if (WSADuplicateSocketA(connection, worker_pid[w], &info) != 0) {
      fprintf(stderr, "dispatcher: handoff %u failed: %s\n", i,
              wsadup_error_name(WSAGetLastError()));
      ++dispatch_errors;
    } else if (stalled && (int)w == stall_worker) {
      /* Duplicated without waiting for it; the token and its
       * acknowledgement go through the pipe after the stop. */
      latency[w][handed[w]++] = now_microseconds() - start;
      held[held_count++] = info;
      ++owed[w];
    } else if (write_all(worker[w].input, &info, sizeof(info)) != 0) {
      fprintf(stderr, "dispatcher: worker %u's pipe failed\n", w);
      ++dispatch_errors;
    } else if (read_all(worker[w].output, &ack, 1) != 0 || ack != 1) {
      fprintf(stderr, "dispatcher: worker %u did not import handoff %u\n", w,
              i);
      ++dispatch_errors;
    } else {
      spent = now_microseconds() - start;
      latency[w][handed[w]++] = spent;
      if (stalled) others_in_stall[in_stall++] = spent;
    }
    /* The worker holds its own descriptor now, or it waits for it. */
    closesocket(connection);
  }
  if (stalled) {
    /* Every connection is handed out; the stop still lasts its second. */
    double left = STALL_MICROSECONDS - (now_microseconds() - stall_start);
    if (left > 0) {
      fd_set none;
      struct timeval wait;
      wait.tv_sec = (long)(left / 1e6);
      wait.tv_usec = (long)(left - (double)wait.tv_sec * 1e6);
      FD_ZERO(&none);
      FD_SET(listener, &none);
      select((int)listener + 1, &none, NULL, NULL, &wait);
    }
    dispatch_errors += resume_worker(&worker[stall_worker], held, &held_count);
    stalled = 0;
  }
  for (i = 0; i < workers; ++i) {
    unsigned char ack = 0;
    for (; owed[i] > 0; --owed[i]) {
      if (read_all(worker[i].output, &ack, 1) != 0 || ack != 1) {
        ++dispatch_errors;
      }
    }
  }

  for (i = 0; i < workers; ++i) {
#if defined(_WIN32)
    _close(worker[i].input);
#else
    close(worker[i].input);
#endif
    memset(&stats[i], 0, sizeof(stats[i]));
    if (read_all(worker[i].output, &stats[i], sizeof(stats[i])) != 0) {
      ++stats[i].errors;
    }
    if (wait_child(&worker[i]) != 0) ++stats[i].errors;
  }
  if (read_all(client.output, client_result, sizeof(client_result)) != 0) {
    client_result[1] = count;
  }
  wait_child(&client);

  printf("wsadup %s handoff demo: %u connections, %u workers\n",
         wsadup_version_string(), count, workers);
  printf("%-8s %-8s %12s %10s %8s %14s %14s\n", "worker", "pid",
         "connections", "bytes", "errors", "handoff p50", "handoff p99");
  for (i = 0; i < workers; ++i) {
    double p50 = percentile(latency[i], handed[i], 0.50);
    double p99 = percentile(latency[i], handed[i], 0.99);
    printf("%-8u %-8u %12u %10llu %8u %11.1f us %11.1f us\n", i,
           (unsigned)worker_pid[i], (unsigned)stats[i].connections,
           (unsigned long long)stats[i].bytes, (unsigned)stats[i].errors, p50,
           p99);
    served += stats[i].connections;
    total_errors += stats[i].errors;
  }
  if (stall_worker >= 0) {
    double p99 = percentile(latency[stall_worker], handed[stall_worker], 0.99);
    printf("worker %d stopped for %.0f ms halfway: handoffs to it returned in "
           "p99 %.1f us; the other workers' handoffs during the stop: %u, "
           "p50 %.1f us, p99 %.1f us\n",
           stall_worker, STALL_MICROSECONDS / 1e3, p99, in_stall,
           percentile(others_in_stall, in_stall, 0.50),
           percentile(others_in_stall, in_stall, 0.99));
  }
  free(others_in_stall);
  free(held);
  total_errors += dispatch_errors + client_result[1];
  printf("served %u/%u connections, replies checked %u good / %u wrong, "
         "%u errors\n",
         served, count, (unsigned)client_result[0], (unsigned)client_result[1],
         (unsigned)total_errors);
  for (i = 0; i < workers; ++i) free(latency[i]);
  closesocket(listener);
  WSACleanup();
  return (served == count && client_result[0] == count && total_errors == 0)
             ? 0
             : 1;
}

int main(int argc, char** argv) {
  unsigned count = 1000, workers = 4;
  int i, stall_worker = -1;
  if (argc >= 2 && strcmp(argv[1], "--worker") == 0) return run_worker();
  if (argc >= 4 && strcmp(argv[1], "--client") == 0) {
    return run_client((unsigned short)atoi(argv[2]), (unsigned)atoi(argv[3]));
  }
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--connections") == 0) count = (unsigned)atoi(argv[i + 1]);
    if (strcmp(argv[i], "--workers") == 0) workers = (unsigned)atoi(argv[i + 1]);
    if (strcmp(argv[i], "--stall-worker") == 0) stall_worker = atoi(argv[i + 1]);
  }
  if (workers == 0 || workers > MAX_WORKERS || count == 0 ||
      stall_worker >= (int)workers || stall_worker < -1) {
    fprintf(stderr,
            "usage: %s [--connections N] [--workers 1..%d] "
            "[--stall-worker 0..W-1]\n",
            argv[0], MAX_WORKERS);
    return 2;
  }
  return run_dispatcher(argv[0], count, workers, stall_worker);
}
