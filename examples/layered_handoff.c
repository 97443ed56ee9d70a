/*
 * A socket handoff through a layered service provider: the sample layer
 * (examples/counting_layer.c) installed in both processes through a catalog
 * file, a connected socket duplicated in one and imported in the other, and
 * the layer's own counts showing that each call went through it.
 *
 *   layered_handoff [layer.so]
 *
 * The parent writes a catalog file into a private directory (mode 0700) it
 * creates, with one line that installs the layer over TCP/IPv4, and names it
 * in WSADUP_PROVIDER_CATALOG for itself and for the child it starts (this
 * program again, --child). Both find the layer's entries with
 * WSCEnumProtocols and agree on their ids. The parent creates a listener and
 * a client with WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, ...),
 * which picks the first matching catalog entry, the layer's chain, as on
 * Windows. It connects the client, duplicates it for the child with
 * WSADuplicateSocketW and checks that the token names the layer's chain
 * entry, closes its own copy and writes the raw WSAPROTOCOL_INFOW into the
 * child's pipe. The child imports it with WSASocketW(FROM_PROTOCOL_INFO,
 * ...), registers FD_READ | FD_CLOSE with WSAEventSelect, and echoes the
 * parent's line until the parent closes the connection.
 *
 * Each process then asks the layer, through its exported
 * CountingLayerCount, what reached it: in the parent one WSPStartup, two
 * WSPSocket, one WSPDuplicateSocket, two WSPCloseSocket and, after
 * WSACleanup, one WSPCleanup; in the child one WSPStartup, one WSPSocket
 * (the import), one WSPCloseSocket, every WSAEventSelect and
 * WSAEnumNetworkEvents it made, and one WSPCleanup. Exit 0 when every check
 * held and the child exited cleanly, 1 otherwise, each failure with its own
 * message. Every wait on the other process is bounded; nothing sleeps.
 *
 * POSIX only. On Windows a layer is installed in the system's catalog by an
 * installer run as an administrator (WSCInstallProvider,
 * WSCWriteProviderOrder), not by the program that uses it, and this program
 * is not built there; the layer itself builds as a DLL. The Winsock code
 * below is what a Windows program writes; the platform section (starting
 * the child, its pipes, the private directory and finding the loaded layer)
 * is POSIX code.
 */
/* POSIX.1-2008 with XSI (mkdtemp, realpath, setenv, poll), also in a strict
 * C99 build. */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winsock2.h>
#include <ws2spi.h>
#include <ws2tcpip.h>
#include <wsadup/wsadup.h>

#if defined(_WIN32)
#error "POSIX only: on Windows an installer puts a layer in the catalog"
#endif

#ifndef COUNTING_LAYER_PATH
#error "build with -DCOUNTING_LAYER_PATH=\"/path/to/counting_layer.so\""
#endif

/* Every wait on another process (a pipe, a connection, an event, an
 * exit). */
#define WAIT_MS 10000

/* The layer's catalog entries. The layered entry's GUID is built into the
 * layer (counting_layer.c), as Microsoft's samples build theirs; the chain's
 * is the installer's choice. */
static const GUID layered_provider_id = {
    0x5a3c0d1e,
    0x7b2f,
    0x4c61,
    {0x9e, 0x48, 0x21, 0xd7, 0x6a, 0x0b, 0x53, 0xc4}};
static const GUID chain_provider_id = {
    0x5a3c0d1e,
    0x7b2f,
    0x4c61,
    {0x9e, 0x48, 0x21, 0xd7, 0x6a, 0x0b, 0x53, 0xc5}};

/* The built-in TCP/IPv4 entry (docs/providers.md, "What is there"). */
#define BASE_TCP_IPV4_ENTRY 1001

/* ------------------------------------------------------------ platform -- */
/* Starting this program again as a child with pipes for its standard input
 * and output, each wait bounded; the private directory for the catalog
 * file; and finding the layer wsadup loaded, to ask it for its counts. */
#include <dlfcn.h>
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

static void platform_init(const char* program) { program_path = program; }

static int child_start(const char* const* args, child_process* child) {
  int to_child[2], from_child[2];
  const char* argv[8];
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
  for (i = 0; args[i] != NULL && i < 6; ++i) argv[i + 1] = args[i];
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

static int write_all(int descriptor, const void* data, size_t size) {
  const char* bytes = (const char*)data;
  while (size > 0) {
    ssize_t put = write(descriptor, bytes, size);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    bytes += put;
    size -= (size_t)put;
  }
  return 0;
}

static int child_write(child_process* child, const void* data, size_t size) {
  return write_all(child->input, data, size);
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
    struct pollfd readable = {0, POLLIN, 0};
    int ready;
    long long left = deadline - now_ms();
    ssize_t got;
    readable.fd = child->output;
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

/* The child's exit code, or -1 if it had not exited within timeout_ms (it is
 * then killed). waitpid has no timeout; the end of the child's output, which
 * comes when it exits, bounds the wait instead. */
static int child_wait(child_process* child, DWORD timeout_ms) {
  int status = 0;
  int ended;
  close(child->input);
  ended = child_read(child, NULL, 0, timeout_ms) == 0;
  if (!ended) kill(child->process, SIGKILL);
  close(child->output);
  while (waitpid(child->process, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ended) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The child's side: its standard input and output. A read ends when the
 * parent writes or goes away (end of file). */
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

static int parent_write(const char* line) {
  return write_all(1, line, strlen(line));
}

/* The catalog file, in a directory only this user may enter: wsadup reads
 * a catalog only when nobody else may have written it (docs/providers.md,
 * "Who may write it"). */
typedef struct private_catalog {
  char directory[512];
  char path[600];
} private_catalog;

static int catalog_write(private_catalog* catalog, const char* line) {
  const char* temporary = getenv("TMPDIR");
  int file;
  if (temporary == NULL || temporary[0] != '/') temporary = "/tmp";
  snprintf(catalog->directory, sizeof(catalog->directory),
           "%s/layered-handoff-XXXXXX", temporary);
  catalog->path[0] = '\0';
  if (mkdtemp(catalog->directory) == NULL) { /* mode 0700 */
    catalog->directory[0] = '\0';
    return -1;
  }
  snprintf(catalog->path, sizeof(catalog->path), "%s/catalog",
           catalog->directory);
  file = open(catalog->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (file < 0) return -1;
  if (write_all(file, line, strlen(line)) != 0) {
    close(file);
    return -1;
  }
  close(file);
  /* For this process's first WSAStartup and for the child's. */
  return setenv("WSADUP_PROVIDER_CATALOG", catalog->path, 1);
}

static void catalog_remove(private_catalog* catalog) {
  if (catalog->path[0] != '\0') unlink(catalog->path);
  if (catalog->directory[0] != '\0') rmdir(catalog->directory);
}

/* The layer's absolute path: the catalog names shared objects by theirs. */
static int absolute_path(const char* path, char* out, size_t size) {
  char* resolved = realpath(path, NULL);
  int fits;
  if (resolved == NULL) return -1;
  fits = strlen(resolved) < size;
  if (fits) strcpy(out, resolved);
  free(resolved);
  return fits ? 0 : -1;
}

/* The layer's CountingLayerCount, from the copy wsadup loaded; NULL when
 * wsadup has not loaded it (RTLD_NOLOAD loads nothing new). The handle keeps
 * it loaded until layer_release. */
typedef LONG (*count_function)(const char* call);
static void* layer_handle;

static count_function layer_counter(const char* layer_path) {
  if (layer_handle == NULL) {
    layer_handle = dlopen(layer_path, RTLD_NOW | RTLD_NOLOAD);
  }
  if (layer_handle == NULL) return NULL;
  /* POSIX guarantees that dlsym's object pointer converts to a function
   * pointer. */
  return (count_function)dlsym(layer_handle, "CountingLayerCount");
}

static void layer_release(void) {
  if (layer_handle != NULL) dlclose(layer_handle);
  layer_handle = NULL;
}

/* ------------------------------------------------------------- catalog -- */

static void report_error(const char* who, const char* what, int error) {
  fprintf(stderr, "%s: %s failed: %d (%s)\n", who, what, error,
          wsadup_error_name(error));
}

static int same_guid(const GUID* a, const GUID* b) {
  return memcmp(a, b, sizeof(GUID)) == 0;
}

static void format_guid(const GUID* id, char* text, size_t size) {
  snprintf(text, size, "{%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
           (unsigned long)id->Data1, id->Data2, id->Data3, id->Data4[0],
           id->Data4[1], id->Data4[2], id->Data4[3], id->Data4[4], id->Data4[5],
           id->Data4[6], id->Data4[7]);
}

/* The layer's two entries in this process's catalog. */
typedef struct layer_entries {
  DWORD layered; /* the hidden layered entry */
  DWORD chain;   /* the chain over TCP/IPv4 */
} layer_entries;

/* Finds them with WSCEnumProtocols, which lists the hidden layered entry
 * too (WSAEnumProtocols does not). Returns 0, or -1 with a message. */
static int find_layer_entries(const char* who, layer_entries* ids) {
  DWORD length = 0;
  int error = 0, count, i;
  WSAPROTOCOL_INFOW* entries;
  ids->layered = 0;
  ids->chain = 0;
  WSCEnumProtocols(NULL, NULL, &length, &error);
  entries = (WSAPROTOCOL_INFOW*)malloc(length);
  if (entries == NULL) return -1;
  count = WSCEnumProtocols(NULL, entries, &length, &error);
  if (count == SOCKET_ERROR) {
    report_error(who, "WSCEnumProtocols", error);
    free(entries);
    return -1;
  }
  for (i = 0; i < count; ++i) {
    if (same_guid(&entries[i].ProviderId, &layered_provider_id) &&
        entries[i].ProtocolChain.ChainLen == LAYERED_PROTOCOL) {
      ids->layered = entries[i].dwCatalogEntryId;
    }
  }
  for (i = 0; i < count && ids->layered != 0; ++i) {
    const WSAPROTOCOLCHAIN* chain = &entries[i].ProtocolChain;
    if (same_guid(&entries[i].ProviderId, &chain_provider_id) &&
        chain->ChainLen == 2 && chain->ChainEntries[0] == ids->layered &&
        chain->ChainEntries[1] == BASE_TCP_IPV4_ENTRY) {
      ids->chain = entries[i].dwCatalogEntryId;
    }
  }
  free(entries);
  if (ids->chain == 0) {
    fprintf(stderr,
            "%s: the catalog has no counting layer over TCP/IPv4: wsadup "
            "skips a catalog line whose file, shared object or their "
            "directories someone else may write (docs/providers.md)\n",
            who);
    return -1;
  }
  return 0;
}

/* Checks one of the layer's counts in this process. */
static int expect_count(const char* who, count_function layer_count,
                        const char* call, LONG expected) {
  LONG counted = layer_count(call);
  if (counted != expected) {
    fprintf(stderr, "%s: the layer counted %ld %s calls, expected %ld\n", who,
            (long)counted, call, (long)expected);
    return -1;
  }
  return 0;
}

/* --------------------------------------------------------------- child -- */

/* Sends all of a short reply on a socket in non-blocking mode (the event
 * registration made it so). */
static int send_all(SOCKET s, const char* data, int size) {
  while (size > 0) {
    int put = send(s, data, size, 0);
    if (put == SOCKET_ERROR) {
      report_error("child", "send", WSAGetLastError());
      return -1;
    }
    data += put;
    size -= put;
  }
  return 0;
}

/* Echoes one line and waits for the end of the connection, each wait in
 * WSAWaitForMultipleEvents; counts the WSAEnumNetworkEvents calls it makes. */
static int echo_until_closed(SOCKET s, WSAEVENT event, int* enum_calls) {
  char line[256];
  int length = 0, echoed = 0;
  for (;;) {
    WSANETWORKEVENTS happened;
    DWORD woke = WSAWaitForMultipleEvents(1, &event, FALSE, WAIT_MS, FALSE);
    if (woke != WSA_WAIT_EVENT_0) {
      fprintf(stderr, "child: no network event within %d ms\n", WAIT_MS);
      return -1;
    }
    ++*enum_calls;
    if (WSAEnumNetworkEvents(s, event, &happened) == SOCKET_ERROR) {
      report_error("child", "WSAEnumNetworkEvents", WSAGetLastError());
      return -1;
    }
    if ((happened.lNetworkEvents & FD_CLOSE) &&
        happened.iErrorCode[FD_CLOSE_BIT] != 0) {
      report_error("child", "the connection",
                   happened.iErrorCode[FD_CLOSE_BIT]);
      return -1;
    }
    /* Read what there is; each recv re-enables FD_READ. */
    for (;;) {
      int got = recv(s, line + length, (int)sizeof(line) - length, 0);
      if (got == 0) return echoed ? 0 : -1; /* the parent closed */
      if (got == SOCKET_ERROR) {
        if (WSAGetLastError() == WSAEWOULDBLOCK) break;
        report_error("child", "recv", WSAGetLastError());
        return -1;
      }
      length += got;
      if (!echoed && memchr(line, '\n', (size_t)length) != NULL) {
        if (send_all(s, line, length) != 0) return -1;
        echoed = 1;
      }
      if (length == (int)sizeof(line)) {
        fprintf(stderr, "child: more than one line\n");
        return -1;
      }
    }
  }
}

static int run_child(const char* layer_path) {
  WSADATA data;
  WSAPROTOCOL_INFOW info;
  layer_entries ids;
  count_function layer_count;
  WSAEVENT event;
  SOCKET s;
  char line[128];
  int event_selects = 0, enum_calls = 0, failures = 0;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (find_layer_entries("child", &ids) != 0) return 1;
  snprintf(line, sizeof(line), "ready %lu %lu\n",
           (unsigned long)GetCurrentProcessId(), (unsigned long)ids.chain);
  if (parent_write(line) != 0 || parent_read(&info, sizeof(info)) != 0) {
    fprintf(stderr, "child: no token from the parent\n");
    return 1;
  }
  /* The token names the layer's chain in this catalog too: the import goes
   * to the layer, which passes it to the base provider. */
  if (info.dwCatalogEntryId != ids.chain) {
    fprintf(stderr,
            "child: the token names entry %lu, the layer's chain is %lu\n",
            (unsigned long)info.dwCatalogEntryId, (unsigned long)ids.chain);
    return 1;
  }
  s = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                 &info, 0, WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) {
    report_error("child", "WSASocketW(FROM_PROTOCOL_INFO)", WSAGetLastError());
    return 1;
  }
  layer_count = layer_counter(layer_path);
  if (layer_count == NULL) {
    fprintf(stderr, "child: the import did not load the layer %s\n",
            layer_path);
    closesocket(s);
    return 1;
  }
  event = WSACreateEvent();
  ++event_selects;
  if (event == WSA_INVALID_EVENT ||
      WSAEventSelect(s, event, FD_READ | FD_CLOSE) == SOCKET_ERROR) {
    report_error("child", "WSAEventSelect", WSAGetLastError());
    ++failures;
  } else if (echo_until_closed(s, event, &enum_calls) != 0) {
    ++failures;
  }
  /* Cancels the registration, as a server does before it closes. */
  ++event_selects;
  if (WSAEventSelect(s, NULL, 0) == SOCKET_ERROR) {
    report_error("child", "WSAEventSelect(NULL, 0)", WSAGetLastError());
    ++failures;
  }
  if (closesocket(s) == SOCKET_ERROR) {
    report_error("child", "closesocket", WSAGetLastError());
    ++failures;
  }
  if (event != WSA_INVALID_EVENT) WSACloseEvent(event);

  if (expect_count("child", layer_count, "WSPStartup", 1) != 0) ++failures;
  if (expect_count("child", layer_count, "WSPSocket", 1) != 0) ++failures;
  if (expect_count("child", layer_count, "WSPDuplicateSocket", 0) != 0) {
    ++failures;
  }
  if (expect_count("child", layer_count, "WSPEventSelect", event_selects) !=
      0) {
    ++failures;
  }
  if (expect_count("child", layer_count, "WSPEnumNetworkEvents", enum_calls) !=
      0) {
    ++failures;
  }
  if (expect_count("child", layer_count, "WSPCloseSocket", 1) != 0) {
    ++failures;
  }
  WSACleanup();
  if (expect_count("child", layer_count, "WSPCleanup", 1) != 0) ++failures;
  snprintf(line, sizeof(line),
           "counted WSPSocket %ld, WSPEventSelect %ld, WSPEnumNetworkEvents "
           "%ld, WSPCloseSocket %ld, WSPCleanup %ld\n",
           (long)layer_count("WSPSocket"), (long)layer_count("WSPEventSelect"),
           (long)layer_count("WSPEnumNetworkEvents"),
           (long)layer_count("WSPCloseSocket"),
           (long)layer_count("WSPCleanup"));
  parent_write(line);
  layer_release();
  return failures == 0 ? 0 : 1;
}

/* -------------------------------------------------------------- parent -- */

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

/* A TCP socket through the layer: with no WSAPROTOCOL_INFO, WSASocketW takes
 * the first catalog entry for the triplet, which is the layer's chain. */
static SOCKET layered_socket(void) {
  SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
  if (s == INVALID_SOCKET) {
    report_error("parent", "WSASocketW", WSAGetLastError());
  }
  return s;
}

/* A connection to ourselves: *client through the layer, *server accepted. */
static int connected_pair(SOCKET* client, SOCKET* server) {
  struct sockaddr_in address;
  int length = (int)sizeof(address);
  SOCKET listener = layered_socket();
  *client = INVALID_SOCKET;
  *server = INVALID_SOCKET;
  if (listener == INVALID_SOCKET) return -1;
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&address, sizeof(address)) ==
          SOCKET_ERROR ||
      listen(listener, 1) == SOCKET_ERROR ||
      getsockname(listener, (struct sockaddr*)&address, &length) ==
          SOCKET_ERROR) {
    report_error("parent", "bind, listen or getsockname", WSAGetLastError());
    closesocket(listener);
    return -1;
  }
  *client = layered_socket();
  if (*client == INVALID_SOCKET) {
    closesocket(listener);
    return -1;
  }
  if (connect(*client, (struct sockaddr*)&address, sizeof(address)) ==
      SOCKET_ERROR) {
    report_error("parent", "connect", WSAGetLastError());
  } else {
    *server = accept(listener, NULL, NULL);
    if (*server == INVALID_SOCKET) {
      report_error("parent", "accept", WSAGetLastError());
    }
  }
  closesocket(listener);
  if (*server == INVALID_SOCKET) {
    closesocket(*client);
    *client = INVALID_SOCKET;
    return -1;
  }
  return 0;
}

/* WSADuplicateSocketW through the layer: the token must name the layer's
 * chain entry, and carry its chain. */
static int duplicate_for_child(SOCKET client, DWORD child_pid,
                               const layer_entries* ids,
                               WSAPROTOCOL_INFOW* info) {
  if (WSADuplicateSocketW(client, child_pid, info) == SOCKET_ERROR) {
    report_error("parent", "WSADuplicateSocketW", WSAGetLastError());
    return -1;
  }
  if (info->dwCatalogEntryId != ids->chain ||
      !same_guid(&info->ProviderId, &chain_provider_id) ||
      info->ProtocolChain.ChainLen != 2 ||
      info->ProtocolChain.ChainEntries[0] != ids->layered ||
      info->ProtocolChain.ChainEntries[1] != BASE_TCP_IPV4_ENTRY) {
    fprintf(stderr,
            "parent: the token names entry %lu (chain of %d: %lu, %lu), not "
            "the layer's chain %lu over [%lu, %d]\n",
            (unsigned long)info->dwCatalogEntryId, info->ProtocolChain.ChainLen,
            (unsigned long)info->ProtocolChain.ChainEntries[0],
            (unsigned long)info->ProtocolChain.ChainEntries[1],
            (unsigned long)ids->chain, (unsigned long)ids->layered,
            BASE_TCP_IPV4_ENTRY);
    return -1;
  }
  return 0;
}

/* A line to the child's copy of the connection, and its echo. */
static int check_echo(SOCKET server) {
  const char request[] = "through the counting layer\n";
  char reply[sizeof(request)];
  int length = 0;
  DWORD timeout = WAIT_MS;
  if (setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, (const char*)&timeout,
                 sizeof(timeout)) == SOCKET_ERROR ||
      send(server, request, (int)strlen(request), 0) != (int)strlen(request)) {
    report_error("parent", "setsockopt or send", WSAGetLastError());
    return -1;
  }
  while (length < (int)strlen(request)) {
    int got = recv(server, reply + length, (int)strlen(request) - length, 0);
    if (got == SOCKET_ERROR || got == 0) {
      fprintf(
          stderr, "parent: no echo from the child (%s)\n",
          got == 0 ? "end of stream" : wsadup_error_name(WSAGetLastError()));
      return -1;
    }
    length += got;
  }
  if (memcmp(reply, request, (size_t)length) != 0) {
    fprintf(stderr, "parent: wrong echo \"%.*s\"\n", length, reply);
    return -1;
  }
  return 0;
}

/* The handoff and its checks, once the child reported ready. */
static int hand_off(child_process* child, const char* layer_path,
                    const layer_entries* ids, char* child_report,
                    size_t report_size) {
  WSAPROTOCOL_INFOW info;
  SOCKET client, server;
  count_function layer_count;
  int failures = 0;
  if (connected_pair(&client, &server) != 0) return 1;
  layer_count = layer_counter(layer_path);
  if (layer_count == NULL) {
    fprintf(stderr, "parent: WSASocketW did not load the layer %s\n",
            layer_path);
    closesocket(client);
    closesocket(server);
    return 1;
  }
  if (duplicate_for_child(client, child->pid, ids, &info) != 0) ++failures;
  /* The child's copy lives on; this one goes, as DuplicateAndClose does. */
  closesocket(client);
  if (failures == 0 && child_write(child, &info, sizeof(info)) != 0) {
    fprintf(stderr, "parent: cannot write the token to the child\n");
    ++failures;
  }
  if (failures == 0 && check_echo(server) != 0) ++failures;
  /* The end of the connection ends the child's echo. */
  closesocket(server);
  if (failures == 0 && child_read_line(child, child_report, report_size) != 0) {
    fprintf(stderr, "parent: no report from the child\n");
    ++failures;
  }
  if (expect_count("parent", layer_count, "WSPStartup", 1) != 0) ++failures;
  if (expect_count("parent", layer_count, "WSPSocket", 2) != 0) ++failures;
  if (expect_count("parent", layer_count, "WSPDuplicateSocket", 1) != 0) {
    ++failures;
  }
  if (expect_count("parent", layer_count, "WSPCloseSocket", 2) != 0) {
    ++failures;
  }
  return failures;
}

static int run_parent(const char* layer_argument) {
  WSADATA data;
  private_catalog catalog;
  layer_entries ids;
  child_process child;
  char layer_path[4096], line[4096 + 256], layered_text[40], chain_text[40];
  char child_report[256] = "";
  const char* args[] = {"--child", layer_path, NULL};
  unsigned long reported_pid = 0, reported_chain = 0;
  count_function layer_count;
  int failures = 0, exit_code = -1;

  if (absolute_path(layer_argument, layer_path, sizeof(layer_path)) != 0) {
    fprintf(stderr, "parent: no layer at %s\n", layer_argument);
    return 1;
  }
  /* One line: the layer over the built-in TCP/IPv4 entry. */
  format_guid(&layered_provider_id, layered_text, sizeof(layered_text));
  format_guid(&chain_provider_id, chain_text, sizeof(chain_text));
  snprintf(line, sizeof(line), "layer %s %s %s %d Counting layer\n",
           layered_text, chain_text, layer_path, BASE_TCP_IPV4_ENTRY);
  if (catalog_write(&catalog, line) != 0) {
    fprintf(stderr, "parent: cannot write the catalog file %s\n", catalog.path);
    catalog_remove(&catalog);
    return 1;
  }
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
    catalog_remove(&catalog);
    return 2;
  }
  if (find_layer_entries("parent", &ids) != 0) {
    WSACleanup();
    catalog_remove(&catalog);
    return 1;
  }
  if (child_start(args, &child) != 0) {
    fprintf(stderr, "parent: cannot start the child\n");
    WSACleanup();
    catalog_remove(&catalog);
    return 1;
  }
  /* The child read the same catalog: same ids. */
  if (child_read_line(&child, line, sizeof(line)) != 0 ||
      sscanf(line, "ready %lu %lu", &reported_pid, &reported_chain) != 2 ||
      reported_pid != child.pid) {
    fprintf(stderr, "parent: the child did not report ready\n");
    ++failures;
  } else if (reported_chain != ids.chain) {
    fprintf(stderr, "parent: the layer's chain is %lu here, %lu in the child\n",
            (unsigned long)ids.chain, reported_chain);
    ++failures;
  } else {
    failures +=
        hand_off(&child, layer_path, &ids, child_report, sizeof(child_report));
  }
  exit_code = child_wait(&child, WAIT_MS);
  if (exit_code != 0) {
    fprintf(stderr, "parent: the child exited with %d\n", exit_code);
    ++failures;
  }
  WSACleanup();
  layer_count = layer_counter(layer_path);
  if (layer_count != NULL &&
      expect_count("parent", layer_count, "WSPCleanup", 1) != 0) {
    ++failures;
  }
  printf("layered handoff: layer %s\n", layer_path);
  printf("  catalog %s: layered entry %lu, chain %lu over [%lu, %d]\n",
         catalog.path, (unsigned long)ids.layered, (unsigned long)ids.chain,
         (unsigned long)ids.layered, BASE_TCP_IPV4_ENTRY);
  if (layer_count != NULL) {
    printf(
        "  parent counted WSPSocket %ld, WSPDuplicateSocket %ld, "
        "WSPCloseSocket %ld, WSPCleanup %ld\n",
        (long)layer_count("WSPSocket"), (long)layer_count("WSPDuplicateSocket"),
        (long)layer_count("WSPCloseSocket"), (long)layer_count("WSPCleanup"));
  }
  if (child_report[0] != '\0') {
    printf("  child %lu %s\n", (unsigned long)child.pid, child_report);
  }
  printf("layered handoff: %s\n", failures == 0 ? "ok" : "FAILED");
  layer_release();
  catalog_remove(&catalog);
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  platform_init(argv[0]);
  if (argc == 3 && strcmp(argv[1], "--child") == 0) return run_child(argv[2]);
  if (argc > 2) {
    fprintf(stderr, "usage: %s [layer.so]\n", argv[0]);
    return 2;
  }
  return run_parent(argc == 2 ? argv[1] : COUNTING_LAYER_PATH);
}
