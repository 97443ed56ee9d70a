// WSASocket, WSADuplicateSocket and closesocket through an installed entry,
// as ws2_32 routes them: a new socket by the entry its WSAPROTOCOL_INFO
// names (dwCatalogEntryId) or, without one, by the first entry in catalog
// order that matches (af, type, protocol); an existing socket by the entry
// that owns it (WPUModifyIFSHandle, WPUCreateSocketHandle). api.cc calls in
// here only once a provider has been installed; the built-in base entries
// stay on the engine's direct path.
#include <cstddef>
#include <cstring>

#include "posix/provider.h"

namespace wsadup::detail {
namespace {

// The numeric fields before the name, the same in the A and W forms.
constexpr size_t kPublicFieldsSize = offsetof(WSAPROTOCOL_INFOW, szProtocol);

bool same_guid(const GUID& a, const GUID& b) {
  return std::memcmp(&a, &b, sizeof(GUID)) == 0;
}

}  // namespace

void widen_info(const WSAPROTOCOL_INFOA& from, WSAPROTOCOL_INFOW* to) {
  std::memcpy(to, &from, kPublicFieldsSize);
  for (size_t i = 0; i <= WSAPROTOCOL_LEN; ++i) {
    to->szProtocol[i] = static_cast<unsigned char>(from.szProtocol[i]);
  }
}

void narrow_info(const WSAPROTOCOL_INFOW& from, WSAPROTOCOL_INFOA* to) {
  std::memcpy(to, &from, kPublicFieldsSize);
  for (size_t i = 0; i <= WSAPROTOCOL_LEN; ++i) {
    WCHAR unit = from.szProtocol[i];
    to->szProtocol[i] = static_cast<char>(unit < 256 ? unit : '?');
  }
}

bool route_socket(int af, int type, int protocol,
                  const WSAPROTOCOL_INFOW* info, GROUP group, DWORD flags,
                  SOCKET* result, int* error) {
  *result = INVALID_SOCKET;
  WSAPROTOCOL_INFOW entry;
  if (info == nullptr) {
    if (!find_entry_for_triplet(af, type, protocol, &entry) ||
        is_builtin_entry(entry.dwCatalogEntryId)) {
      return false;
    }
    const WSPPROC_TABLE* table =
        started_provider_for_entry(entry.dwCatalogEntryId, error);
    if (table == nullptr) return true;
    int provider_status = 0;
    SOCKET s = table->lpWSPSocket(af, type, protocol, &entry, group, flags,
                                  &provider_status);
    if (s == INVALID_SOCKET) {
      *error = provider_error(provider_status);
    } else {
      *result = s;
    }
    return true;
  }

  bool token = info->dwProviderReserved != 0;
  if (is_builtin_entry(info->dwCatalogEntryId) &&
      info->ProtocolChain.ChainLen == BASE_PROTOCOL) {
    if (token || !find_entry(info->dwCatalogEntryId, &entry) ||
        !same_guid(entry.ProviderId, info->ProviderId)) {
      return false;  // a base token, or not an entry: the engine decides
    }
    // An entry WSAEnumProtocols returned: a socket of exactly that provider,
    // whatever layer sits first in the catalog (how libuv sidesteps
    // layered providers on Windows).
    int s = -1;
    *error = engine_create_socket(
        af == FROM_PROTOCOL_INFO || af == 0 ? info->iAddressFamily : af,
        type == FROM_PROTOCOL_INFO || type == 0 ? info->iSocketType : type,
        protocol == FROM_PROTOCOL_INFO || protocol == 0 ? info->iProtocol
                                                        : protocol,
        flags, &s);
    if (*error == 0) *result = s;
    return true;
  }

  // A layered entry's: the token must name one this catalog has, from the
  // same provider (a target that lacks the layer refuses the token without
  // consuming it).
  if (!find_entry(info->dwCatalogEntryId, &entry) ||
      !same_guid(entry.ProviderId, info->ProviderId) ||
      entry.ProtocolChain.ChainLen == LAYERED_PROTOCOL) {
    *error = WSAEINVAL;
    return true;
  }
  ImportContext context;
  if (token) {
    TokenRecord record;
    if (group != 0 || decode_token(*info, &record) != 0 ||
        !matches_token(af, record.address_family) ||
        !matches_token(type, record.socket_type) ||
        !matches_token(protocol, record.protocol) ||
        record.target_pid != static_cast<uint32_t>(current_pid())) {
      *error = WSAEINVAL;
      return true;
    }
    context.key = info->dwProviderReserved;
    context.record = record;
  }
  const WSPPROC_TABLE* table =
      started_provider_for_entry(entry.dwCatalogEntryId, error);
  if (table == nullptr) return true;
  WSAPROTOCOL_INFOW given = *info;
  int provider_status = 0;
  set_import_context(token ? &context : nullptr);
  SOCKET s = table->lpWSPSocket(af, type, protocol, &given, group, flags,
                                &provider_status);
  set_import_context(nullptr);
  if (s == INVALID_SOCKET) {
    *error = provider_error(provider_status);
  } else {
    *result = s;
  }
  return true;
}

bool route_duplicate(SOCKET s, DWORD pid, WSAPROTOCOL_INFOW* info,
                     int* error) {
  DWORD owner = owner_of(s);
  if (owner == 0) return false;
  const WSPPROC_TABLE* table = started_provider_for_entry(owner, error);
  if (table == nullptr) return true;
  clear_duplicate_record();
  int provider_status = 0;
  int status = table->lpWSPDuplicateSocket(s, pid, info, &provider_status);
  TokenRecord record;
  bool made = info != nullptr &&
              take_duplicate_record(info->dwProviderReserved, &record);
  clear_duplicate_record();
  if (status != 0) {
    *error = provider_error(provider_status);
    return true;
  }
  // The whole chain has returned: the record goes in last, whatever the
  // layers wrote over the base's structure.
  if (made) seal_token(record, info);
  *error = 0;
  return true;
}

bool route_close(SOCKET s, int* error) {
  DWORD owner = owner_of(s);
  if (owner == 0) return false;
  int ignored = 0;
  const WSPPROC_TABLE* table = started_provider_for_entry(owner, &ignored);
  // An owner that cannot be reached any more: the engine closes it.
  if (table == nullptr) return false;
  int provider_status = 0;
  int status = table->lpWSPCloseSocket(s, &provider_status);
  if (status != 0) {
    *error = provider_error(provider_status);
    return true;
  }
  forget_owner(s);
  *error = 0;
  return true;
}

}  // namespace wsadup::detail
