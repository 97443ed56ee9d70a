// The Windows half of the test harness's process layer: helpers are started
// with CreateProcessW and talk to the test over their standard input and
// output, which are pipes.
//
// Every wait is bounded. The test reads the helper's output through an
// overlapped named pipe, so it waits on an event with a timeout and cancels
// the read when time runs out. The helper reads its standard input, an
// ordinary anonymous pipe it cannot reopen overlapped, by polling
// PeekNamedPipe with a short backoff up to its deadline.
#ifndef NOMINMAX
#define NOMINMAX  // Keep <windows.h> from defining min and max as macros.
#endif
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "platform.h"
#include "process.h"

namespace wsadup_test {
namespace {

// One ReadFile or WriteFile moves at most this much; the DWORD byte counts
// of the Win32 calls cannot say more.
constexpr size_t kMaxTransfer = 1u << 20;

std::wstring widen(const std::string& text) {
  if (text.empty()) return std::wstring();
  const int length = MultiByteToWideChar(CP_UTF8, 0, text.data(),
                                         static_cast<int>(text.size()),
                                         nullptr, 0);
  std::wstring wide(static_cast<size_t>(length), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()),
                      &wide[0], length);
  return wide;
}

std::string narrow(const std::wstring& wide) {
  if (wide.empty()) return std::string();
  const int length =
      WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                          nullptr, 0, nullptr, nullptr);
  std::string text(static_cast<size_t>(length), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                      &text[0], length, nullptr, nullptr);
  return text;
}

// Quotes one argument so that the child's CommandLineToArgvW (and the C
// runtime's argv parser) gives it back unchanged: backslashes are literal
// except in front of a double quote, where they must be doubled.
void append_quoted_argument(const std::wstring& argument,
                            std::wstring* command_line) {
  if (!command_line->empty()) command_line->push_back(L' ');
  if (!argument.empty() &&
      argument.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    command_line->append(argument);
    return;
  }
  command_line->push_back(L'"');
  size_t backslashes = 0;
  for (wchar_t c : argument) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') {
      command_line->append(2 * backslashes + 1, L'\\');
    } else {
      command_line->append(backslashes, L'\\');
    }
    backslashes = 0;
    command_line->push_back(c);
  }
  // Backslashes before the closing quote are doubled so they stay literal.
  command_line->append(2 * backslashes, L'\\');
  command_line->push_back(L'"');
}

// Milliseconds left until deadline (from GetTickCount64), never negative.
DWORD remaining_ms(ULONGLONG deadline) {
  const ULONGLONG now = GetTickCount64();
  return now >= deadline ? 0 : static_cast<DWORD>(deadline - now);
}

// Reads exactly size bytes from a pipe opened without FILE_FLAG_OVERLAPPED,
// waiting at most timeout_ms. A pipe has no waitable "readable" state, so
// this polls PeekNamedPipe, sleeping 1 ms at first and backing off to 10 ms:
// fast when the writer is quick, cheap when it is slow. End of file (the
// writer closed its end) shows as ERROR_BROKEN_PIPE.
bool read_pipe_polling(HANDLE pipe, void* data, size_t size, int timeout_ms) {
  auto* bytes = static_cast<unsigned char*>(data);
  const ULONGLONG deadline =
      GetTickCount64() + static_cast<ULONGLONG>(std::max(timeout_ms, 0));
  DWORD backoff_ms = 1;
  while (size > 0) {
    DWORD available = 0;
    if (!PeekNamedPipe(pipe, nullptr, 0, nullptr, &available, nullptr)) {
      return false;
    }
    if (available == 0) {
      const DWORD left = remaining_ms(deadline);
      if (left == 0) return false;
      Sleep(std::min(backoff_ms, left));
      backoff_ms = std::min<DWORD>(backoff_ms * 2, 10);
      continue;
    }
    const DWORD wanted = static_cast<DWORD>(
        std::min({size, static_cast<size_t>(available), kMaxTransfer}));
    DWORD got = 0;
    if (!ReadFile(pipe, bytes, wanted, &got, nullptr) || got == 0) return false;
    bytes += got;
    size -= got;
    backoff_ms = 1;
  }
  return true;
}

bool write_handle_all(HANDLE handle, const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  while (size > 0) {
    const DWORD chunk = static_cast<DWORD>(std::min(size, kMaxTransfer));
    DWORD written = 0;
    if (!WriteFile(handle, bytes, chunk, &written, nullptr) || written == 0) {
      return false;
    }
    bytes += written;
    size -= written;
  }
  return true;
}

void close_handle(HANDLE* handle) {
  if (*handle != nullptr && *handle != INVALID_HANDLE_VALUE) {
    CloseHandle(*handle);
  }
  *handle = nullptr;
}

// The test's end of the helper's standard output: the server end of a named
// pipe opened for overlapped reads, so a read can wait with a timeout and be
// cancelled. The helper's end (its STD_OUTPUT_HANDLE) is an ordinary,
// synchronous, inheritable client handle.
bool create_output_pipe(HANDLE* read_end, HANDLE* inheritable_write_end) {
  static std::atomic<unsigned> counter{0};
  wchar_t name[96];
  swprintf(name, sizeof(name) / sizeof(name[0]),
           L"\\\\.\\pipe\\wsadup-test-%lu-%u-%llu", GetCurrentProcessId(),
           counter.fetch_add(1), static_cast<unsigned long long>(GetTickCount64()));
  *read_end = CreateNamedPipeW(
      name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
      1, 64 * 1024, 64 * 1024, 0, nullptr);
  if (*read_end == INVALID_HANDLE_VALUE) {
    *read_end = nullptr;
    return false;
  }
  SECURITY_ATTRIBUTES inheritable = {sizeof(inheritable), nullptr, TRUE};
  *inheritable_write_end = CreateFileW(name, GENERIC_WRITE, 0, &inheritable,
                                       OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL,
                                       nullptr);
  if (*inheritable_write_end == INVALID_HANDLE_VALUE) {
    *inheritable_write_end = nullptr;
    close_handle(read_end);
    return false;
  }
  return true;
}

class WindowsChild final : public ChildProcess {
 public:
  WindowsChild(HANDLE process, DWORD pid, HANDLE input, HANDLE output)
      : process_(process), pid_(pid), input_(input), output_(output) {
    read_done_ = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  }

  ~WindowsChild() override {
    if (!exited_) kill();
    close_handle(&input_);
    close_handle(&output_);
    close_handle(&read_done_);
    close_handle(&process_);
  }

  bool valid() const { return read_done_ != nullptr; }

  uint32_t pid() const override { return pid_; }

  bool write_all(const void* data, size_t size) override {
    if (input_ == nullptr) return false;
    return write_handle_all(input_, data, size);
  }

  bool read_exact(void* data, size_t size, int timeout_ms) override {
    auto* bytes = static_cast<unsigned char*>(data);
    const ULONGLONG deadline =
        GetTickCount64() + static_cast<ULONGLONG>(std::max(timeout_ms, 0));
    while (size > 0) {
      const DWORD chunk = static_cast<DWORD>(std::min(size, kMaxTransfer));
      DWORD got = 0;
      if (!read_some(bytes, chunk, remaining_ms(deadline), &got)) return false;
      bytes += got;
      size -= got;
    }
    return true;
  }

  void close_input() override { close_handle(&input_); }

  int wait(int timeout_ms) override {
    if (!exited_) {
      const DWORD result = WaitForSingleObject(
          process_, static_cast<DWORD>(std::max(timeout_ms, 0)));
      if (result != WAIT_OBJECT_0) {
        kill();
        return -1;
      }
      record_exit();
    }
    return exit_code_;
  }

  void kill() override {
    if (exited_) return;
    // TerminateProcess is asynchronous: wait until the process is gone, so
    // that its handles (and its references to shared sockets) are released
    // when kill returns, as after SIGKILL and waitpid on POSIX.
    TerminateProcess(process_, 1);
    WaitForSingleObject(process_, static_cast<DWORD>(kProcessTimeoutMs));
    record_exit();
    exit_code_ = -1;  // Killed: no exit code of its own, as on POSIX.
  }

 private:
  // One overlapped ReadFile that returns as soon as any bytes arrive.
  bool read_some(unsigned char* buffer, DWORD size, DWORD timeout_ms,
                 DWORD* got) {
    if (output_ == nullptr) return false;
    OVERLAPPED overlapped = {};
    overlapped.hEvent = read_done_;
    ResetEvent(read_done_);
    if (!ReadFile(output_, buffer, size, nullptr, &overlapped)) {
      if (GetLastError() != ERROR_IO_PENDING) return false;  // EOF or error.
      if (WaitForSingleObject(read_done_, timeout_ms) != WAIT_OBJECT_0) {
        // Time is up. The read may still complete in the meantime: the
        // blocking GetOverlappedResult below settles which, and bytes that
        // did arrive are kept rather than lost.
        CancelIoEx(output_, &overlapped);
      }
    }
    if (!GetOverlappedResult(output_, &overlapped, got, TRUE)) return false;
    return *got > 0;
  }

  // Keeps the exit code and closes the process handle: the Windows
  // equivalent of reaping. While any handle to it is open, an exited process
  // lives on as an object that OpenProcess (and so WSADuplicateSocket) still
  // finds by its id; after this, on Windows, its id names no process, as
  // after waitpid. (Wine still finds it: docs/conformance.md, W3.)
  void record_exit() {
    DWORD code = 0;
    exit_code_ = GetExitCodeProcess(process_, &code) ? static_cast<int>(code) : -1;
    exited_ = true;
    close_handle(&process_);
  }

  HANDLE process_;
  DWORD pid_;
  HANDLE input_;
  HANDLE output_;
  HANDLE read_done_ = nullptr;
  bool exited_ = false;
  int exit_code_ = -1;
};

// An inheritable duplicate of this process's standard error, for the child,
// or nullptr when there is none.
HANDLE inheritable_standard_error() {
  HANDLE error = GetStdHandle(STD_ERROR_HANDLE);
  if (error == nullptr || error == INVALID_HANDLE_VALUE) return nullptr;
  HANDLE copy = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), error, GetCurrentProcess(), &copy,
                       0, TRUE, DUPLICATE_SAME_ACCESS)) {
    return nullptr;
  }
  return copy;
}

// NtQuerySystemInformation(SystemExtendedHandleInformation) and
// NtQueryObject(ObjectTypeInformation), declared here because their
// structures are not in every SDK's public headers (MinGW's <winternl.h>
// lacks them, MSVC's has only part). Both are loaded from ntdll at run time,
// so nothing links against ntdll.lib.
struct SystemHandleEntry {
  void* object;
  ULONG_PTR process_id;
  ULONG_PTR handle_value;
  ULONG granted_access;
  USHORT creator_back_trace_index;
  USHORT object_type_index;
  ULONG handle_attributes;
  ULONG reserved;
};
struct SystemHandleTable {
  ULONG_PTR count;
  ULONG_PTR reserved;
  SystemHandleEntry entries[1];
};
struct UnicodeString {
  USHORT length;
  USHORT maximum_length;
  wchar_t* buffer;
};
constexpr ULONG kSystemExtendedHandleInformation = 64;
constexpr ULONG kObjectTypeInformation = 2;
constexpr LONG kStatusInfoLengthMismatch = static_cast<LONG>(0xC0000004L);
using QuerySystemInformation = LONG(WINAPI*)(ULONG, void*, ULONG, ULONG*);
using QueryObject = LONG(WINAPI*)(HANDLE, ULONG, void*, ULONG, ULONG*);

template <typename Function>
Function ntdll_function(const char* name) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll == nullptr) return nullptr;
  // GetProcAddress returns a generic function pointer; going through void*
  // is the conversion both GCC and MSVC accept without a warning.
  return reinterpret_cast<Function>(
      reinterpret_cast<void*>(GetProcAddress(ntdll, name)));
}

bool is_file_object(HANDLE handle, QueryObject query_object) {
  alignas(UnicodeString) unsigned char buffer[1024];
  ULONG length = 0;
  if (query_object(handle, kObjectTypeInformation, buffer, sizeof(buffer),
                   &length) != 0) {
    return false;
  }
  // OBJECT_TYPE_INFORMATION starts with the type's name.
  const auto* name = reinterpret_cast<const UnicodeString*>(buffer);
  return name->buffer != nullptr &&
         std::wstring(name->buffer, name->length / sizeof(wchar_t)) == L"File";
}

// Under Wine: the number of this process's handles to File objects, which
// is what sockets and pipes are there. Other kinds are left out on purpose:
// Wine's ws2_32 gives each thread an Event the first time it makes a
// blocking socket call and keeps it until the thread ends, so counting
// Events would report that as a leak in any test whose main thread first
// blocks on a socket. 0 if the system cannot say.
size_t wine_file_handle_count() {
  static const auto query_system =
      ntdll_function<QuerySystemInformation>("NtQuerySystemInformation");
  static const auto query_object = ntdll_function<QueryObject>("NtQueryObject");
  if (query_system == nullptr || query_object == nullptr) return 0;
  std::vector<unsigned char> table(64 * 1024);
  for (;;) {
    ULONG needed = 0;
    const LONG status =
        query_system(kSystemExtendedHandleInformation, table.data(),
                     static_cast<ULONG>(table.size()), &needed);
    if (status == kStatusInfoLengthMismatch && table.size() < (64u << 20)) {
      table.resize(std::max<size_t>(table.size() * 2, needed));
      continue;
    }
    if (status != 0) return 0;
    break;
  }
  // The table is a count followed by that many entries; copy each one out
  // rather than index past the declared one-element array.
  ULONG_PTR count = 0;
  std::memcpy(&count, table.data(), sizeof(count));
  const size_t first = offsetof(SystemHandleTable, entries);
  count = std::min<ULONG_PTR>(
      count, (table.size() - first) / sizeof(SystemHandleEntry));
  const ULONG_PTR self = GetCurrentProcessId();
  size_t files = 0;
  for (ULONG_PTR i = 0; i < count; ++i) {
    SystemHandleEntry entry;
    std::memcpy(&entry, table.data() + first + i * sizeof(entry),
                sizeof(entry));
    if (entry.process_id != self) continue;
    if (is_file_object(reinterpret_cast<HANDLE>(entry.handle_value),
                       query_object)) {
      ++files;
    }
  }
  return files;
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(
    const std::string& helper, const std::vector<std::string>& arguments) {
  std::wstring command_line;
  append_quoted_argument(widen(executable_path()), &command_line);
  append_quoted_argument(L"--wsadup-helper", &command_line);
  append_quoted_argument(widen(helper), &command_line);
  for (const std::string& argument : arguments) {
    append_quoted_argument(widen(argument), &command_line);
  }

  // The child's standard input: an anonymous pipe whose write end stays
  // here, not inheritable.
  SECURITY_ATTRIBUTES inheritable = {sizeof(inheritable), nullptr, TRUE};
  HANDLE child_input = nullptr;
  HANDLE input = nullptr;
  if (!CreatePipe(&child_input, &input, &inheritable, 0)) return nullptr;
  SetHandleInformation(input, HANDLE_FLAG_INHERIT, 0);

  HANDLE output = nullptr;
  HANDLE child_output = nullptr;
  if (!create_output_pipe(&output, &child_output)) {
    close_handle(&child_input);
    close_handle(&input);
    return nullptr;
  }
  HANDLE child_error = inheritable_standard_error();

  // Sockets are inheritable handles on Windows by default, so a plain
  // bInheritHandles=TRUE would hand the child every socket the test holds
  // and keep connections open behind the test's back. The handle list
  // attribute restricts inheritance to exactly the child's three standard
  // handles (Windows Vista and later; Wine honours it too).
  std::vector<HANDLE> inherited = {child_input, child_output};
  if (child_error != nullptr) inherited.push_back(child_error);
  SIZE_T attribute_size = 0;
  InitializeProcThreadAttributeList(nullptr, 1, 0, &attribute_size);
  std::vector<unsigned char> attribute_storage(attribute_size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(
      attribute_storage.data());
  bool started = false;
  PROCESS_INFORMATION process_information = {};
  if (InitializeProcThreadAttributeList(attributes, 1, 0, &attribute_size)) {
    if (UpdateProcThreadAttribute(attributes, 0,
                                  PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                  inherited.data(),
                                  inherited.size() * sizeof(HANDLE), nullptr,
                                  nullptr)) {
      STARTUPINFOEXW startup = {};
      startup.StartupInfo.cb = sizeof(startup);
      startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
      startup.StartupInfo.hStdInput = child_input;
      startup.StartupInfo.hStdOutput = child_output;
      startup.StartupInfo.hStdError = child_error;
      startup.lpAttributeList = attributes;
      std::vector<wchar_t> mutable_command_line(command_line.begin(),
                                                command_line.end());
      mutable_command_line.push_back(L'\0');
      started = CreateProcessW(
                    nullptr, mutable_command_line.data(), nullptr, nullptr,
                    TRUE, EXTENDED_STARTUPINFO_PRESENT | CREATE_NO_WINDOW,
                    nullptr, nullptr, &startup.StartupInfo,
                    &process_information) != FALSE;
    }
    DeleteProcThreadAttributeList(attributes);
  }

  // The child has its copies now; ours would hide its exit (end of file).
  close_handle(&child_input);
  close_handle(&child_output);
  close_handle(&child_error);
  if (!started) {
    close_handle(&input);
    close_handle(&output);
    return nullptr;
  }
  CloseHandle(process_information.hThread);
  auto child = std::make_unique<WindowsChild>(process_information.hProcess,
                                              process_information.dwProcessId,
                                              input, output);
  if (!child->valid()) return nullptr;  // The destructor kills it.
  return child;
}

bool helper_write_raw(const void* data, size_t size) {
  return write_handle_all(GetStdHandle(STD_OUTPUT_HANDLE), data, size);
}

bool helper_read_raw(void* data, size_t size, int timeout_ms) {
  return read_pipe_polling(GetStdHandle(STD_INPUT_HANDLE), data, size,
                           timeout_ms);
}

size_t open_descriptor_count() {
  DWORD count = 0;
  if (GetProcessHandleCount(GetCurrentProcess(), &count) && count > 0) {
    return count;
  }
  // Wine answers GetProcessHandleCount with 0 (see docs/conformance.md).
  return wine_file_handle_count();
}

uint32_t current_pid() { return GetCurrentProcessId(); }

std::string executable_path() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD length = GetModuleFileNameW(nullptr, &path[0],
                                            static_cast<DWORD>(path.size()));
    if (length == 0) return std::string();
    if (length < path.size()) {
      path.resize(length);
      return narrow(path);
    }
    path.resize(path.size() * 2);  // Truncated: try a larger buffer.
  }
}

bool running_under_wine() {
  static const bool under_wine = [] {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll != nullptr &&
           GetProcAddress(ntdll, "wine_get_version") != nullptr;
  }();
  return under_wine;
}

}  // namespace wsadup_test
