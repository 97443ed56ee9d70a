/*
 * The Wine peer row: the same Winsock-style handoff as row 2, written for
 * Windows, cross-built with MinGW-w64 and run under Wine, which is what a
 * user would otherwise run a Windows server under.
 *
 *   wine wine_handoff.exe <count> <warmup>
 *
 * The parent makes a loopback TCP connection, starts itself as the child
 * with a pipe as its standard input and another as its standard output, and
 * for each handoff: WSADuplicateSocketA for the child, the token's raw bytes
 * down the pipe, the child's WSASocketA import and closesocket, its one-byte
 * answer back. It prints "SAMPLES <ns> <ns> ...", one per timed handoff, as
 * the Node and Python peers do.
 */
#include <winsock2.h>
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_exact(HANDLE pipe, void* data, DWORD size) {
  char* bytes = (char*)data;
  while (size > 0) {
    DWORD got = 0;
    if (!ReadFile(pipe, bytes, size, &got, NULL) || got == 0) return -1;
    bytes += got;
    size -= got;
  }
  return 0;
}

static int write_exact(HANDLE pipe, const void* data, DWORD size) {
  DWORD put = 0;
  return WriteFile(pipe, data, size, &put, NULL) && put == size ? 0 : -1;
}

static int run_child(void) {
  WSADATA data;
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  WSAPROTOCOL_INFOA info;
  DWORD pid = GetCurrentProcessId();
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  if (write_exact(out, &pid, sizeof(pid)) != 0) return 2;
  while (read_exact(in, &info, sizeof(info)) == 0) {
    SOCKET s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                          FROM_PROTOCOL_INFO, &info, 0, 0);
    char answer = s == INVALID_SOCKET ? 'E' : 'A';
    if (s != INVALID_SOCKET) closesocket(s);
    if (write_exact(out, &answer, 1) != 0) break;
  }
  WSACleanup();
  return 0;
}

static int tcp_pair(SOCKET* client, SOCKET* server) {
  struct sockaddr_in address;
  int length = sizeof(address);
  SOCKET listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  memset(&address, 0, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener == INVALID_SOCKET ||
      bind(listener, (struct sockaddr*)&address, sizeof(address)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, (struct sockaddr*)&address, &length) != 0) {
    return -1;
  }
  *client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (*client == INVALID_SOCKET ||
      connect(*client, (struct sockaddr*)&address, sizeof(address)) != 0) {
    return -1;
  }
  *server = accept(listener, NULL, NULL);
  closesocket(listener);
  return *server == INVALID_SOCKET ? -1 : 0;
}

int main(int argc, char** argv) {
  WSADATA data;
  SECURITY_ATTRIBUTES inherit = {sizeof(inherit), NULL, TRUE};
  HANDLE in_read, in_write, out_read, out_write;
  STARTUPINFOA startup;
  PROCESS_INFORMATION child;
  char command[MAX_PATH + 16], path[MAX_PATH];
  SOCKET client, server;
  DWORD child_pid = 0;
  LARGE_INTEGER frequency;
  int count, warmup, i, failed = 0;
  if (argc >= 2 && strcmp(argv[1], "--child") == 0) return run_child();
  if (argc < 3) {
    fprintf(stderr, "usage: wine_handoff.exe <count> <warmup>\n");
    return 2;
  }
  count = atoi(argv[1]);
  warmup = atoi(argv[2]);
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0 || tcp_pair(&client, &server)) {
    fprintf(stderr, "no loopback connection\n");
    return 1;
  }
  GetModuleFileNameA(NULL, path, MAX_PATH);
  snprintf(command, sizeof(command), "\"%s\" --child", path);
  if (!CreatePipe(&in_read, &in_write, &inherit, 0) ||
      !CreatePipe(&out_read, &out_write, &inherit, 0)) {
    return 1;
  }
  SetHandleInformation(in_write, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(out_read, HANDLE_FLAG_INHERIT, 0);
  memset(&startup, 0, sizeof(startup));
  startup.cb = sizeof(startup);
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = in_read;
  startup.hStdOutput = out_write;
  startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  if (!CreateProcessA(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL, &startup,
                      &child)) {
    fprintf(stderr, "cannot start the child\n");
    return 1;
  }
  CloseHandle(in_read);
  CloseHandle(out_write);
  if (read_exact(out_read, &child_pid, sizeof(child_pid)) != 0) return 1;
  QueryPerformanceFrequency(&frequency);
  printf("SAMPLES");
  for (i = 0; i < warmup + count && !failed; ++i) {
    WSAPROTOCOL_INFOA info;
    LARGE_INTEGER t0, t1;
    char answer = 0;
    QueryPerformanceCounter(&t0);
    if (WSADuplicateSocketA(server, child_pid, &info) != 0 ||
        write_exact(in_write, &info, sizeof(info)) != 0 ||
        read_exact(out_read, &answer, 1) != 0 || answer != 'A') {
      failed = 1;
      break;
    }
    QueryPerformanceCounter(&t1);
    if (i >= warmup) {
      double ns = (double)(t1.QuadPart - t0.QuadPart) * 1e9 /
                  (double)frequency.QuadPart;
      printf(" %.0f", ns);
    }
  }
  printf("\n");
  CloseHandle(in_write);
  WaitForSingleObject(child.hProcess, 20000);
  CloseHandle(child.hProcess);
  CloseHandle(child.hThread);
  CloseHandle(out_read);
  closesocket(client);
  closesocket(server);
  WSACleanup();
  if (failed) fprintf(stderr, "handoff %d failed: %d\n", i, WSAGetLastError());
  return failed;
}
