// The provider catalog of this process: the built-in base entries (wsadup's
// engine), the entries installed with WSCInstallProvider or from the catalog
// file, their enumeration, and starting each provider once (WSPStartup) and
// cleaning it up once per successful start at the last WSACleanup.
//
// Windows keeps one catalog for the whole system, in the registry, written
// by administrators. Here each process has its own, in memory: both
// processes of a handoff install the same providers in the same order (the
// catalog file does it for both), so catalog ids agree between them.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>
#include <vector>

#include "posix/provider.h"

namespace wsadup::detail {

std::atomic<bool> g_layers_installed{false};

struct Provider {
  GUID id{};
  std::string path;  // UTF-8; empty for wsadup_install_provider's
  LPWSPSTARTUP startup = nullptr;
  void* library = nullptr;
  bool started = false;
  WSPPROC_TABLE table{};
};

namespace {

struct Entry {
  WSAPROTOCOL_INFOW info;
  std::shared_ptr<Provider> provider;
};

// Held while a provider starts: its WSPStartup may enumerate the catalog on
// the same thread.
std::recursive_mutex g_catalog_mutex;
std::vector<Entry> g_entries;                      // in catalog order
std::vector<std::shared_ptr<Provider>> g_providers;  // by install order
DWORD g_next_entry_id = kFirstInstalledEntryId;
bool g_builtin_ready = false;

bool same_guid(const GUID& a, const GUID& b) {
  return std::memcmp(&a, &b, sizeof(GUID)) == 0;
}

// The base entries, as token.cc's describe_protocol fills them.
void add_builtin_entries_locked() {
  if (g_builtin_ready) return;
  g_builtin_ready = true;
  struct Kind {
    int family, type, protocol;
  };
  const Kind kinds[] = {{AF_INET, SOCK_STREAM, IPPROTO_TCP},
                        {AF_INET, SOCK_DGRAM, IPPROTO_UDP},
                        {AF_INET6, SOCK_STREAM, IPPROTO_TCP},
                        {AF_INET6, SOCK_DGRAM, IPPROTO_UDP},
                        {AF_UNIX, SOCK_STREAM, 0}};
  for (const Kind& kind : kinds) {
    Entry entry{};
    describe_protocol(kind.family, kind.type, kind.protocol, &entry.info);
    std::shared_ptr<Provider> provider;
    for (const auto& known : g_providers) {
      if (same_guid(known->id, entry.info.ProviderId)) provider = known;
    }
    if (!provider) {
      provider = std::make_shared<Provider>();
      provider->id = entry.info.ProviderId;
      provider->startup = base_wsp_startup;
      g_providers.push_back(provider);
    }
    entry.provider = provider;
    g_entries.push_back(entry);
  }
}

std::shared_ptr<Provider> provider_by_guid_locked(const GUID& id) {
  for (const auto& provider : g_providers) {
    if (same_guid(provider->id, id)) return provider;
  }
  return nullptr;
}

const Entry* entry_by_id_locked(DWORD id) {
  for (const Entry& entry : g_entries) {
    if (entry.info.dwCatalogEntryId == id) return &entry;
  }
  return nullptr;
}

// A chain must start at an installed layered entry (or one of the same
// install call) and end at a base entry, every link existing.
bool chain_is_valid_locked(const WSAPROTOCOL_INFOW& info,
                           const std::vector<Entry>& pending) {
  const WSAPROTOCOLCHAIN& chain = info.ProtocolChain;
  if (chain.ChainLen < 0 || chain.ChainLen > MAX_PROTOCOL_CHAIN) return false;
  if (chain.ChainLen <= BASE_PROTOCOL) return true;
  auto lookup = [&pending](DWORD id) -> const WSAPROTOCOL_INFOW* {
    if (const Entry* entry = entry_by_id_locked(id)) return &entry->info;
    for (const Entry& entry : pending) {
      if (entry.info.dwCatalogEntryId == id) return &entry.info;
    }
    return nullptr;
  };
  const WSAPROTOCOL_INFOW* top = lookup(chain.ChainEntries[0]);
  if (top == nullptr || top->ProtocolChain.ChainLen != LAYERED_PROTOCOL) {
    return false;
  }
  for (int i = 1; i < chain.ChainLen; ++i) {
    if (lookup(chain.ChainEntries[i]) == nullptr) return false;
  }
  const WSAPROTOCOL_INFOW* base = lookup(chain.ChainEntries[chain.ChainLen - 1]);
  return base->ProtocolChain.ChainLen == BASE_PROTOCOL;
}

int install_locked(const GUID& id, const std::string& path,
                   LPWSPSTARTUP startup, const WSAPROTOCOL_INFOW* infos,
                   DWORD count) {
  add_builtin_entries_locked();
  if (provider_by_guid_locked(id)) return WSANO_RECOVERY;
  auto provider = std::make_shared<Provider>();
  provider->id = id;
  provider->path = path;
  provider->startup = startup;
  // Ids are assigned in install order, so two processes that install the
  // same providers in the same order agree on every id. A layered entry is
  // numbered before the chains of the same call, which may name it.
  std::vector<Entry> pending;
  DWORD next = g_next_entry_id;
  for (int pass = 0; pass < 2; ++pass) {
    for (DWORD i = 0; i < count; ++i) {
      bool layered = infos[i].ProtocolChain.ChainLen == LAYERED_PROTOCOL;
      if (layered != (pass == 0)) continue;
      Entry entry{infos[i], provider};
      entry.info.ProviderId = id;
      entry.info.dwCatalogEntryId = next++;
      if (layered) {
        // A layered entry's chain names itself, as Windows' catalog has it.
        entry.info.ProtocolChain.ChainEntries[0] = entry.info.dwCatalogEntryId;
      }
      pending.push_back(entry);
    }
  }
  for (const Entry& entry : pending) {
    if (!chain_is_valid_locked(entry.info, pending)) return WSAEINVAL;
  }
  g_next_entry_id = next;
  g_providers.push_back(provider);
  // Chains go first, the newest on top, as Windows' installers order them
  // (WSCWriteProviderOrder): a WSASocket by triplet then meets the layer.
  std::vector<Entry> chains;
  for (const Entry& entry : pending) {
    if (entry.info.ProtocolChain.ChainLen > BASE_PROTOCOL) {
      chains.push_back(entry);
    } else {
      g_entries.push_back(entry);
    }
  }
  g_entries.insert(g_entries.begin(), chains.begin(), chains.end());
  g_layers_installed.store(true, std::memory_order_relaxed);
  return 0;
}

std::string utf8_from_wide(const WCHAR* text) {
  std::string out;
  for (size_t i = 0; text[i] != 0; ++i) {
    uint32_t unit = text[i];
    if (unit >= 0xd800 && unit < 0xdc00 && text[i + 1] >= 0xdc00 &&
        text[i + 1] < 0xe000) {
      unit = 0x10000 + ((unit - 0xd800) << 10) + (text[i + 1] - 0xdc00);
      ++i;
    }
    if (unit < 0x80) {
      out += static_cast<char>(unit);
    } else if (unit < 0x800) {
      out += static_cast<char>(0xc0 | (unit >> 6));
      out += static_cast<char>(0x80 | (unit & 0x3f));
    } else if (unit < 0x10000) {
      out += static_cast<char>(0xe0 | (unit >> 12));
      out += static_cast<char>(0x80 | ((unit >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (unit & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (unit >> 18));
      out += static_cast<char>(0x80 | ((unit >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((unit >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (unit & 0x3f));
    }
  }
  return out;
}

std::vector<WCHAR> wide_from_utf8(const std::string& text) {
  std::vector<WCHAR> out;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    uint32_t unit = byte;
    size_t extra = byte >= 0xf0 ? 3 : byte >= 0xe0 ? 2 : byte >= 0xc0 ? 1 : 0;
    if (extra > 0) unit = byte & (0x3f >> extra);
    ++i;
    for (size_t k = 0; k < extra && i < text.size(); ++k, ++i) {
      unit = (unit << 6) | (static_cast<unsigned char>(text[i]) & 0x3f);
    }
    if (unit >= 0x10000) {
      unit -= 0x10000;
      out.push_back(static_cast<WCHAR>(0xd800 + (unit >> 10)));
      out.push_back(static_cast<WCHAR>(0xdc00 + (unit & 0x3ff)));
    } else {
      out.push_back(static_cast<WCHAR>(unit));
    }
  }
  out.push_back(0);
  return out;
}

bool protocol_listed(const int* protocols, int protocol) {
  if (protocols == nullptr) return true;
  for (; *protocols != 0; ++protocols) {
    if (*protocols == protocol) return true;
  }
  return false;
}

// WSCEnumProtocols and WSAEnumProtocolsW: copies the entries that pass into
// buffer. Returns their number, or -1 with *error set.
int enumerate(const int* protocols, WSAPROTOCOL_INFOW* buffer, DWORD* length,
              bool with_layered, int* error) {
  if (length == nullptr) {
    *error = WSAEFAULT;
    return -1;
  }
  std::vector<WSAPROTOCOL_INFOW> found;
  {
    std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
    add_builtin_entries_locked();
    for (const Entry& entry : g_entries) {
      if (!with_layered &&
          entry.info.ProtocolChain.ChainLen == LAYERED_PROTOCOL) {
        continue;
      }
      if (protocol_listed(protocols, entry.info.iProtocol)) {
        found.push_back(entry.info);
      }
    }
  }
  DWORD needed = static_cast<DWORD>(found.size() * sizeof(WSAPROTOCOL_INFOW));
  if (buffer == nullptr || *length < needed) {
    *length = needed;
    *error = WSAENOBUFS;
    return -1;
  }
  std::memcpy(buffer, found.data(), needed);
  return static_cast<int>(found.size());
}

// ---------------------------------------------------------- catalog file --
//
// $WSADUP_PROVIDER_CATALOG names it (ignored in a set-uid program). Lines:
//   layer <layered-guid> <chain-guid> <path.so> <entry-id>[,<entry-id>...] <name>
// install one layered provider as Windows' installers do: a hidden layered
// entry copied from the first entry named, then one chain entry over each
// entry named ("<name> over [<entry's name>]"). '#' starts a comment.

bool parse_guid(const std::string& text, GUID* guid) {
  unsigned int d1, d2, d3, b[8];
  char tail;
  if (std::sscanf(text.c_str(),
                  "{%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x}%c", &d1, &d2, &d3,
                  &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7],
                  &tail) != 11) {
    return false;
  }
  guid->Data1 = d1;
  guid->Data2 = static_cast<uint16_t>(d2);
  guid->Data3 = static_cast<uint16_t>(d3);
  for (int i = 0; i < 8; ++i) guid->Data4[i] = static_cast<uint8_t>(b[i]);
  return true;
}

// Only root and this user may have written what a process loads and runs:
// a regular file (not a link), owned by either, writable by nobody else,
// in a directory nobody else may write to.
bool trusted_file(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  struct stat status;
  if (lstat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode)) {
    return false;
  }
  uid_t self = geteuid();
  auto owner_ok = [self](const struct stat& s) {
    return s.st_uid == self || s.st_uid == 0;
  };
  if (!owner_ok(status) || (status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return false;
  }
  std::string directory = path.substr(0, path.find_last_of('/'));
  if (directory.empty()) directory = "/";
  struct stat parent;
  if (stat(directory.c_str(), &parent) != 0 || !owner_ok(parent) ||
      (parent.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return false;
  }
  return true;
}

void install_layer_line_locked(std::istringstream& words) {
  std::string layered_text, chain_text, path, ids_text, name;
  words >> layered_text >> chain_text >> path >> ids_text;
  std::getline(words >> std::ws, name);
  GUID layered_id, chain_id;
  if (!parse_guid(layered_text, &layered_id) ||
      !parse_guid(chain_text, &chain_id) || !trusted_file(path)) {
    return;
  }
  // Copies: installing below adds entries, which may move the table.
  std::vector<WSAPROTOCOL_INFOW> lowers;
  std::stringstream ids(ids_text);
  std::string id_text;
  while (std::getline(ids, id_text, ',')) {
    const Entry* lower =
        entry_by_id_locked(static_cast<DWORD>(std::strtoul(id_text.c_str(),
                                                           nullptr, 10)));
    if (lower == nullptr ||
        lower->info.ProtocolChain.ChainLen == LAYERED_PROTOCOL) {
      return;
    }
    lowers.push_back(lower->info);
  }
  if (lowers.empty() || name.empty()) return;
  std::vector<WCHAR> wide_name = wide_from_utf8(name);
  auto set_name = [](WSAPROTOCOL_INFOW* info, const std::vector<WCHAR>& text) {
    std::memset(info->szProtocol, 0, sizeof(info->szProtocol));
    for (size_t i = 0; i + 1 < text.size() && i < WSAPROTOCOL_LEN; ++i) {
      info->szProtocol[i] = text[i];
    }
  };
  WSAPROTOCOL_INFOW layered = lowers[0];
  layered.iSocketType = 0;
  layered.iProtocol = 0;
  layered.dwProviderFlags =
      (layered.dwProviderFlags | PFL_HIDDEN) & ~static_cast<DWORD>(PFL_MATCHES_PROTOCOL_ZERO);
  layered.ProtocolChain.ChainLen = LAYERED_PROTOCOL;
  set_name(&layered, wide_name);
  if (install_locked(layered_id, path, nullptr, &layered, 1) != 0) return;
  DWORD layered_entry = g_next_entry_id - 1;
  std::vector<WSAPROTOCOL_INFOW> chains;
  for (const WSAPROTOCOL_INFOW& lower : lowers) {
    WSAPROTOCOL_INFOW chain = lower;
    WSAPROTOCOLCHAIN& links = chain.ProtocolChain;
    if (links.ChainLen == BASE_PROTOCOL) {
      links.ChainEntries[1] = lower.dwCatalogEntryId;
      links.ChainLen = 2;
    } else {
      if (links.ChainLen >= MAX_PROTOCOL_CHAIN) return;
      std::memmove(&links.ChainEntries[1], &links.ChainEntries[0],
                   sizeof(DWORD) * static_cast<size_t>(links.ChainLen));
      ++links.ChainLen;
    }
    links.ChainEntries[0] = layered_entry;
    std::string full = name + " over [" +
                       utf8_from_wide(lower.szProtocol) + "]";
    set_name(&chain, wide_from_utf8(full));
    chains.push_back(chain);
  }
  install_locked(chain_id, path, nullptr, chains.data(),
                 static_cast<DWORD>(chains.size()));
}

void read_catalog_file_locked() {
  const char* path = secure_getenv("WSADUP_PROVIDER_CATALOG");
  if (path == nullptr || path[0] == '\0' || !trusted_file(path)) return;
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream words(line);
    std::string verb;
    words >> verb;
    if (verb == "layer") install_layer_line_locked(words);
  }
}

}  // namespace

bool find_entry(DWORD catalog_entry_id, WSAPROTOCOL_INFOW* info) {
  std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
  add_builtin_entries_locked();
  const Entry* entry = entry_by_id_locked(catalog_entry_id);
  if (entry == nullptr) return false;
  *info = entry->info;
  return true;
}

bool find_entry_for_triplet(int af, int type, int protocol,
                            WSAPROTOCOL_INFOW* info) {
  std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
  add_builtin_entries_locked();
  for (const Entry& entry : g_entries) {
    const WSAPROTOCOL_INFOW& candidate = entry.info;
    if (candidate.ProtocolChain.ChainLen == LAYERED_PROTOCOL) continue;
    if (af != 0 && candidate.iAddressFamily != af) continue;
    if (type != 0 && candidate.iSocketType != type) continue;
    bool protocol_matches =
        candidate.iProtocol == protocol ||
        (protocol == 0 &&
         (candidate.dwProviderFlags & PFL_MATCHES_PROTOCOL_ZERO) != 0);
    if (!protocol_matches) continue;
    *info = candidate;
    return true;
  }
  return false;
}

const WSPPROC_TABLE* started_provider_for_entry(DWORD catalog_entry_id,
                                                int* error) {
  std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
  add_builtin_entries_locked();
  const Entry* entry = entry_by_id_locked(catalog_entry_id);
  if (entry == nullptr) {
    *error = WSAEINVAL;
    return nullptr;
  }
  Provider& provider = *entry->provider;
  if (provider.started) return &provider.table;
  LPWSPSTARTUP startup = provider.startup;
  if (startup == nullptr) {
    // A missing or corrupt shared object, or one without WSPStartup, is the
    // provider failing to start, as LoadLibrary's failure is on Windows.
    if (provider.library == nullptr) {
      // The base module first: it is where the layer's imports resolve.
      base_provider_path();
      provider.library = dlopen(provider.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    if (provider.library != nullptr) {
      startup = reinterpret_cast<LPWSPSTARTUP>(
          dlsym(provider.library, "WSPStartup"));
    }
    if (startup == nullptr) {
      *error = WSAEPROVIDERFAILEDINIT;
      return nullptr;
    }
    provider.startup = startup;
  }
  WSPDATA data{};
  WSPPROC_TABLE table{};
  WSAPROTOCOL_INFOW info = entry->info;
  int status = startup(MAKEWORD(2, 2), &data, &info, upcall_table(), &table);
  if (status != 0) {
    *error = status;
    return nullptr;
  }
  int ignored = 0;
  if (data.wVersion != MAKEWORD(2, 2)) {
    if (table.lpWSPCleanup != nullptr) table.lpWSPCleanup(&ignored);
    *error = WSAVERNOTSUPPORTED;
    return nullptr;
  }
  const void* const* slots = reinterpret_cast<const void* const*>(&table);
  for (size_t i = 0; i < sizeof(table) / sizeof(void*); ++i) {
    if (slots[i] == nullptr) {
      if (table.lpWSPCleanup != nullptr) table.lpWSPCleanup(&ignored);
      *error = WSAEINVALIDPROCTABLE;
      return nullptr;
    }
  }
  provider.table = table;
  provider.started = true;
  return &provider.table;
}

std::recursive_mutex& catalog_mutex() { return g_catalog_mutex; }

void reset_catalog_mutex_after_fork() {
  // A recursive mutex remembers its owner's thread id, which the child's
  // thread does not have: unlocking the one held across fork fails there.
  // The child has one thread and no other holder, so a new one is right.
  new (&g_catalog_mutex) std::recursive_mutex();
}

void providers_at_startup() {
  std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
  add_builtin_entries_locked();
  read_catalog_file_locked();
}

void providers_at_cleanup() {
  std::vector<std::shared_ptr<Provider>> started;
  {
    std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
    for (const auto& provider : g_providers) {
      if (provider->started) started.push_back(provider);
      provider->started = false;
    }
  }
  // The libraries stay mapped: a layer's code may still be on another
  // thread's stack, and dlclose would run its destructors under it.
  for (const auto& provider : started) {
    int error = 0;
    provider->table.lpWSPCleanup(&error);
  }
  forget_all_owners();
}

}  // namespace wsadup::detail

using namespace wsadup::detail;

namespace {

int set_error(LPINT lpErrno, int error) {
  if (lpErrno != nullptr) *lpErrno = error;
  return SOCKET_ERROR;
}

int install(LPGUID id, const std::string& path, LPWSPSTARTUP startup,
            const WSAPROTOCOL_INFOW* infos, DWORD count, LPINT lpErrno) {
  if (lpErrno == nullptr || id == nullptr || infos == nullptr) {
    return set_error(lpErrno, WSAEFAULT);
  }
  if (count == 0) return set_error(lpErrno, WSAEINVAL);
  try {
    std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
    int status = install_locked(*id, path, startup, infos, count);
    return status == 0 ? 0 : set_error(lpErrno, status);
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

}  // namespace

extern "C" int WSCInstallProvider(LPGUID lpProviderId,
                                  const WCHAR* lpszProviderDllPath,
                                  const LPWSAPROTOCOL_INFOW lpProtocolInfoList,
                                  DWORD dwNumberOfEntries, LPINT lpErrno) {
  if (lpszProviderDllPath == nullptr) return set_error(lpErrno, WSAEFAULT);
  try {
    std::string path = utf8_from_wide(lpszProviderDllPath);
    // dlopen searches the library path for a bare name; a provider is
    // always named by its absolute path, as the catalog file's are.
    if (path.empty() || path[0] != '/') return set_error(lpErrno, WSAEINVAL);
    return install(lpProviderId, path, nullptr, lpProtocolInfoList,
                   dwNumberOfEntries, lpErrno);
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

extern "C" int wsadup_install_provider(
    LPGUID lpProviderId, LPWSPSTARTUP lpfnStartup,
    const LPWSAPROTOCOL_INFOW lpProtocolInfoList, DWORD dwNumberOfEntries,
    LPINT lpErrno) {
  if (lpfnStartup == nullptr) return set_error(lpErrno, WSAEFAULT);
  return install(lpProviderId, std::string(), lpfnStartup, lpProtocolInfoList,
                 dwNumberOfEntries, lpErrno);
}

extern "C" int WSCDeinstallProvider(LPGUID lpProviderId, LPINT lpErrno) {
  if (lpErrno == nullptr || lpProviderId == nullptr) {
    return set_error(lpErrno, WSAEFAULT);
  }
  std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
  add_builtin_entries_locked();
  std::shared_ptr<Provider> provider = provider_by_guid_locked(*lpProviderId);
  // The built-in base is wsadup itself: it cannot be taken out.
  if (!provider || provider->startup == base_wsp_startup) {
    return set_error(lpErrno, WSAEINVAL);
  }
  // Sockets already made keep their provider; new ones no longer see it.
  std::vector<Entry> kept;
  for (const Entry& entry : g_entries) {
    if (entry.provider != provider) kept.push_back(entry);
  }
  g_entries.swap(kept);
  // The GUID may be installed again; the started provider lives on for the
  // sockets it owns, and is cleaned up at the last WSACleanup.
  provider->id = GUID{};
  return 0;
}

extern "C" int WSCEnumProtocols(LPINT lpiProtocols,
                                LPWSAPROTOCOL_INFOW lpProtocolBuffer,
                                LPDWORD lpdwBufferLength, LPINT lpErrno) {
  if (lpErrno == nullptr) return SOCKET_ERROR;
  try {
    int error = 0;
    int count =
        enumerate(lpiProtocols, lpProtocolBuffer, lpdwBufferLength, true, &error);
    return count < 0 ? set_error(lpErrno, error) : count;
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

extern "C" int WSCGetProviderPath(LPGUID lpProviderId,
                                  WCHAR* lpszProviderDllPath,
                                  LPINT lpProviderDllPathLen, LPINT lpErrno) {
  if (lpErrno == nullptr || lpProviderId == nullptr ||
      lpProviderDllPathLen == nullptr) {
    return set_error(lpErrno, WSAEFAULT);
  }
  try {
    std::string path;
    {
      std::lock_guard<std::recursive_mutex> lock(g_catalog_mutex);
      add_builtin_entries_locked();
      std::shared_ptr<Provider> provider =
          provider_by_guid_locked(*lpProviderId);
      if (!provider) return set_error(lpErrno, WSAEINVAL);
      path = provider->startup == base_wsp_startup ? base_provider_path()
                                                   : provider->path;
    }
    std::vector<WCHAR> wide = wide_from_utf8(path);
    int needed = static_cast<int>(wide.size());
    if (lpszProviderDllPath == nullptr || *lpProviderDllPathLen < needed) {
      *lpProviderDllPathLen = needed;
      return set_error(lpErrno, WSAEFAULT);
    }
    std::memcpy(lpszProviderDllPath, wide.data(), wide.size() * sizeof(WCHAR));
    *lpProviderDllPathLen = needed;
    return 0;
  } catch (...) {
    return set_error(lpErrno, WSAENOBUFS);
  }
}

extern "C" int WPUGetProviderPath(LPGUID lpProviderId,
                                  WCHAR* lpszProviderDllPath,
                                  LPINT lpProviderDllPathLen, LPINT lpErrno) {
  return WSCGetProviderPath(lpProviderId, lpszProviderDllPath,
                            lpProviderDllPathLen, lpErrno);
}

extern "C" int WSAEnumProtocolsW(LPINT lpiProtocols,
                                 LPWSAPROTOCOL_INFOW lpProtocolBuffer,
                                 LPDWORD lpdwBufferLength) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    int error = 0;
    int count = enumerate(lpiProtocols, lpProtocolBuffer, lpdwBufferLength,
                          false, &error);
    return count < 0 ? fail(error) : count;
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}

extern "C" int WSAEnumProtocolsA(LPINT lpiProtocols,
                                 LPWSAPROTOCOL_INFOA lpProtocolBuffer,
                                 LPDWORD lpdwBufferLength) {
  ErrnoScope errno_scope;
  try {
    if (!is_initialised()) return fail(WSANOTINITIALISED);
    if (lpdwBufferLength == nullptr) return fail(WSAEFAULT);
    DWORD wide_length = 0;
    int error = 0;
    enumerate(lpiProtocols, nullptr, &wide_length, false, &error);
    DWORD count = static_cast<DWORD>(wide_length / sizeof(WSAPROTOCOL_INFOW));
    DWORD needed = count * static_cast<DWORD>(sizeof(WSAPROTOCOL_INFOA));
    if (lpProtocolBuffer == nullptr || *lpdwBufferLength < needed) {
      *lpdwBufferLength = needed;
      return fail(WSAENOBUFS);
    }
    std::vector<WSAPROTOCOL_INFOW> wide(count);
    int got = enumerate(lpiProtocols, wide.data(), &wide_length, false, &error);
    if (got < 0) return fail(error);
    for (int i = 0; i < got; ++i) narrow_info(wide[static_cast<size_t>(i)],
                                              &lpProtocolBuffer[i]);
    return got;
  } catch (...) {
    return fail(WSAENOBUFS);
  }
}
