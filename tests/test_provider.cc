// The provider side (ws2spi.h): the catalog, layered providers started with
// WSPStartup, and a handoff through a layer in both processes
// (docs/providers.md; the checks of provider.md's "Conformance checks").
// POSIX only: Wine has no service provider interface.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "posix/provider.h"
#include "support.h"
#include "wsadup/ws2spi.h"

namespace wsadup_test {
namespace {

constexpr DWORD kLayeredId = 1008;  // the first install's layered entry
constexpr DWORD kChainOverTcpId = 1009;
constexpr DWORD kChainOverUdpId = 1010;

// A private directory with a catalog file that installs the counting layer
// over TCP/IPv4 and UDP/IPv4, and the layer's logs; the environment names
// them for this process and the peers it starts.
class LayerCatalog {
 public:
  LayerCatalog() {
    char pattern[] = "/tmp/wsadup-provider-XXXXXX";
    directory_ = mkdtemp(pattern);
    catalog_ = directory_ + "/catalog";
    std::ofstream file(catalog_);
    file << "# the counting layer over TCP/IPv4 and UDP/IPv4\n"
         << "layer {6a6f0001-0000-4000-8000-000000000001} "
         << "{6a6f0001-0000-4000-8000-000000000002} "
         << WSADUP_TEST_COUNTING_LAYER << " 1001,1002 Counting layer\n";
    file.close();
    chmod(catalog_.c_str(), 0600);
    setenv("WSADUP_PROVIDER_CATALOG", catalog_.c_str(), 1);
    log_to("self");
  }
  ~LayerCatalog() {
    unsetenv("WSADUP_PROVIDER_CATALOG");
    unsetenv("COUNTING_LAYER_LOG");
    std::string command = "rm -rf '" + directory_ + "'";
    if (std::system(command.c_str()) != 0) {
      ADD_FAILURE() << "could not remove " << directory_;
    }
  }
  // Where the layer logs in the processes started from now on (and in this
  // one): set it to "peer" before starting a peer, back to "self" after.
  void log_to(const std::string& name) {
    setenv("COUNTING_LAYER_LOG", (directory_ + "/" + name + ".log").c_str(),
           1);
  }
  std::string log(const std::string& name) const {
    std::ifstream file(directory_ + "/" + name + ".log");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  static size_t count(const std::string& text, const std::string& what) {
    size_t found = 0;
    for (size_t at = text.find(what); at != std::string::npos;
         at = text.find(what, at + 1)) {
      ++found;
    }
    return found;
  }

 private:
  std::string directory_;
  std::string catalog_;
};

std::vector<WSAPROTOCOL_INFOW> all_entries() {
  DWORD length = 0;
  int error = 0;
  WSCEnumProtocols(nullptr, nullptr, &length, &error);
  EXPECT_EQ(error, WSAENOBUFS);
  std::vector<WSAPROTOCOL_INFOW> entries(length / sizeof(WSAPROTOCOL_INFOW));
  int count = WSCEnumProtocols(nullptr, entries.data(), &length, &error);
  EXPECT_EQ(count, static_cast<int>(entries.size()));
  return entries;
}

const WSAPROTOCOL_INFOW* entry_with_id(
    const std::vector<WSAPROTOCOL_INFOW>& entries, DWORD id) {
  for (const auto& entry : entries) {
    if (entry.dwCatalogEntryId == id) return &entry;
  }
  return nullptr;
}

// A layered entry and one chain over TCP/IPv4, as an installer builds them.
WSAPROTOCOL_INFOW base_tcp_entry() {
  auto entries = all_entries();
  const WSAPROTOCOL_INFOW* tcp = entry_with_id(entries, 1001);
  EXPECT_NE(tcp, nullptr);
  return tcp != nullptr ? *tcp : WSAPROTOCOL_INFOW{};
}

GUID guid(uint32_t first) {
  GUID id{};
  id.Data1 = first;
  id.Data2 = 0x77;
  return id;
}

// Installs a layered entry (GUID layered) and a chain over TCP/IPv4
// (GUID chain) for a provider reached through startup.
void install_function_layer(LPWSPSTARTUP startup, GUID layered, GUID chain,
                            DWORD* chain_id) {
  WSAPROTOCOL_INFOW layer = base_tcp_entry();
  layer.ProtocolChain.ChainLen = LAYERED_PROTOCOL;
  layer.iSocketType = 0;
  layer.iProtocol = 0;
  int error = 0;
  ASSERT_EQ(wsadup_install_provider(&layered, startup, &layer, 1, &error), 0);
  WSAPROTOCOL_INFOW over = base_tcp_entry();
  auto entries = all_entries();
  DWORD layered_id = 0;
  for (const auto& entry : entries) {
    if (std::memcmp(&entry.ProviderId, &layered, sizeof(GUID)) == 0) {
      layered_id = entry.dwCatalogEntryId;
    }
  }
  over.ProtocolChain.ChainLen = 2;
  over.ProtocolChain.ChainEntries[0] = layered_id;
  over.ProtocolChain.ChainEntries[1] = 1001;
  ASSERT_EQ(wsadup_install_provider(&chain, startup, &over, 1, &error), 0);
  *chain_id = all_entries().front().dwCatalogEntryId;
}

class ProviderCatalog : public ConformanceTest {};
class ProviderStartup : public ConformanceTest {};
class ProviderRoute : public ConformanceTest {};
class ProviderDuplicate : public ConformanceTest {};
class ProviderContext : public ConformanceTest {};

TEST_F(ProviderCatalog, ListsBaseEntriesThenTheLayeredEntryAndItsChains) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  auto entries = all_entries();
  for (DWORD id : {1001u, 1002u, 1004u, 1005u}) {
    const WSAPROTOCOL_INFOW* base = entry_with_id(entries, id);
    ASSERT_NE(base, nullptr) << id;
    EXPECT_EQ(base->ProtocolChain.ChainLen, BASE_PROTOCOL);
  }
  const WSAPROTOCOL_INFOW* layered = entry_with_id(entries, kLayeredId);
  ASSERT_NE(layered, nullptr);
  EXPECT_EQ(layered->ProtocolChain.ChainLen, LAYERED_PROTOCOL);
  for (DWORD id : {kChainOverTcpId, kChainOverUdpId}) {
    const WSAPROTOCOL_INFOW* chain = entry_with_id(entries, id);
    ASSERT_NE(chain, nullptr) << id;
    EXPECT_EQ(chain->ProtocolChain.ChainLen, 2);
    EXPECT_EQ(chain->ProtocolChain.ChainEntries[0], kLayeredId);
    EXPECT_EQ(chain->ProtocolChain.ChainEntries[1],
              id == kChainOverTcpId ? 1001u : 1002u);
  }
  // The chains come first, so that a socket by triplet meets the layer.
  EXPECT_EQ(entries[0].ProtocolChain.ChainLen, 2);

  // The application's enumeration leaves the layered entry out.
  DWORD length = 0;
  EXPECT_EQ(WSAEnumProtocolsA(nullptr, nullptr, &length), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  std::vector<WSAPROTOCOL_INFOA> visible(length / sizeof(WSAPROTOCOL_INFOA));
  int count = WSAEnumProtocolsA(nullptr, visible.data(), &length);
  ASSERT_EQ(count, static_cast<int>(entries.size()) - 1);
  for (const auto& entry : visible) {
    EXPECT_NE(entry.ProtocolChain.ChainLen, LAYERED_PROTOCOL);
  }
}

TEST_F(ProviderCatalog, RefusesASecondInstallABadChainAndForgetsADeinstall) {
  Session session;
  ASSERT_TRUE(session.ok());
  WSAPROTOCOL_INFOW layer = base_tcp_entry();
  layer.ProtocolChain.ChainLen = LAYERED_PROTOCOL;
  GUID id = guid(1);
  const WCHAR path[] = {'/', 'n', 'o', 'n', 'e', '.', 's', 'o', 0};
  int error = 0;
  ASSERT_EQ(WSCInstallProvider(&id, path, &layer, 1, &error), 0);
  EXPECT_EQ(WSCInstallProvider(&id, path, &layer, 1, &error), SOCKET_ERROR);
  EXPECT_EQ(error, WSANO_RECOVERY);

  WSAPROTOCOL_INFOW chain = base_tcp_entry();
  chain.ProtocolChain.ChainLen = 2;
  chain.ProtocolChain.ChainEntries[0] = kLayeredId;
  chain.ProtocolChain.ChainEntries[1] = 4242;  // no such entry
  GUID chain_id = guid(2);
  EXPECT_EQ(WSCInstallProvider(&chain_id, path, &chain, 1, &error),
            SOCKET_ERROR);
  EXPECT_EQ(error, WSAEINVAL);
  chain.ProtocolChain.ChainEntries[0] = 1002;  // not a layered entry
  chain.ProtocolChain.ChainEntries[1] = 1001;
  EXPECT_EQ(WSCInstallProvider(&chain_id, path, &chain, 1, &error),
            SOCKET_ERROR);
  EXPECT_EQ(error, WSAEINVAL);

  ASSERT_EQ(WSCDeinstallProvider(&id, &error), 0);
  EXPECT_EQ(entry_with_id(all_entries(), kLayeredId), nullptr);
  EXPECT_EQ(WSCDeinstallProvider(&id, &error), SOCKET_ERROR);
  EXPECT_EQ(error, WSAEINVAL);
}

TEST_F(ProviderStartup, LayerStartsOnceWithItsChainAndIsCleanedUpOnce) {
  LayerCatalog catalog;
  {
    Session session;
    ASSERT_TRUE(session.ok());
    for (int i = 0; i < 3; ++i) {
      SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0);
      ASSERT_NE(s, INVALID_SOCKET);
      EXPECT_EQ(closesocket(s), 0);
    }
    // The layer gave the base the base's own entry, not its chain.
    wsadup::detail::BaseObservations base =
        wsadup::detail::base_observations();
    EXPECT_EQ(base.startups, 1);
    EXPECT_EQ(base.startup_info.dwCatalogEntryId, 1001u);
    EXPECT_EQ(base.startup_info.ProtocolChain.ChainLen, BASE_PROTOCOL);
  }
  std::string log = catalog.log("self");
  EXPECT_EQ(LayerCatalog::count(log, "startup "), 1u) << log;
  EXPECT_EQ(LayerCatalog::count(
                log, "startup id=" + std::to_string(kChainOverTcpId) +
                         " chain=2"),
            1u)
      << log;
  EXPECT_EQ(LayerCatalog::count(log, "cleanup"), 1u) << log;
  EXPECT_EQ(wsadup::detail::base_observations().cleanups, 1);
}

int g_incomplete_cleanups = 0;
int WSPAPI count_cleanup(LPINT) {
  ++g_incomplete_cleanups;
  return 0;
}
int WSPAPI incomplete_startup(WORD, LPWSPDATA data, LPWSAPROTOCOL_INFOW,
                              WSPUPCALLTABLE, LPWSPPROC_TABLE table) {
  data->wVersion = MAKEWORD(2, 2);
  data->wHighVersion = MAKEWORD(2, 2);
  std::memset(table, 0, sizeof(*table));
  table->lpWSPCleanup = count_cleanup;  // and 29 NULL entries
  return 0;
}
int WSPAPI old_version_startup(WORD, LPWSPDATA data, LPWSAPROTOCOL_INFOW,
                               WSPUPCALLTABLE, LPWSPPROC_TABLE table) {
  data->wVersion = MAKEWORD(2, 0);
  data->wHighVersion = MAKEWORD(2, 0);
  std::memset(table, 0, sizeof(*table));
  table->lpWSPCleanup = count_cleanup;
  return 0;
}

TEST_F(ProviderStartup, IncompleteTableIsRefusedWithInvalidProcTable) {
  Session session;
  ASSERT_TRUE(session.ok());
  DWORD chain = 0;
  install_function_layer(incomplete_startup, guid(10), guid(11), &chain);
  EXPECT_EQ(WSASocketA(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0),
            INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAEINVALIDPROCTABLE);
  EXPECT_EQ(g_incomplete_cleanups, 1);
}

TEST_F(ProviderStartup, VersionOtherThanTwoTwoIsRefused) {
  Session session;
  ASSERT_TRUE(session.ok());
  DWORD chain = 0;
  install_function_layer(old_version_startup, guid(12), guid(13), &chain);
  g_incomplete_cleanups = 0;
  EXPECT_EQ(WSASocketA(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0),
            INVALID_SOCKET);
  EXPECT_EQ(WSAGetLastError(), WSAVERNOTSUPPORTED);
  EXPECT_EQ(g_incomplete_cleanups, 1);
}

TEST_F(ProviderRoute, TripletSocketGoesThroughTheLayerAndBaseInfoBypassesIt) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  SOCKET layered = WSASocketA(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0);
  ASSERT_NE(layered, INVALID_SOCKET) << WSAGetLastError();
  wsadup::detail::BaseObservations base = wsadup::detail::base_observations();
  EXPECT_EQ(base.sockets, 1);
  ASSERT_TRUE(base.socket_had_info);
  EXPECT_EQ(base.socket_info.dwCatalogEntryId, 1001u);
  EXPECT_EQ(base.socket_info.ProtocolChain.ChainLen, BASE_PROTOCOL);
  EXPECT_EQ(wsadup::detail::owner_of(layered), kChainOverTcpId);

  // The base entry's own structure reaches the base directly.
  WSAPROTOCOL_INFOW tcp = base_tcp_entry();
  SOCKET direct = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                             FROM_PROTOCOL_INFO, &tcp, 0, 0);
  ASSERT_NE(direct, INVALID_SOCKET);
  EXPECT_EQ(wsadup::detail::owner_of(direct), 0u);
  EXPECT_EQ(wsadup::detail::base_observations().sockets, 1);
  std::string log = catalog.log("self");
  EXPECT_EQ(LayerCatalog::count(log, "socket "), 1u) << log;

  // closesocket reaches the layer, which reaches the base.
  EXPECT_EQ(closesocket(layered), 0);
  EXPECT_EQ(LayerCatalog::count(catalog.log("self"), "close "), 1u);
  EXPECT_EQ(wsadup::detail::base_observations().closes, 1);
  EXPECT_EQ(closesocket(direct), 0);
  EXPECT_EQ(LayerCatalog::count(catalog.log("self"), "close "), 1u);
}

// Check 14: the conversions follow the policy of WSPSocket. The layer whose
// chain comes first for the family sees its chain entry; the base sees its
// own entry (ChainLen 1); the base entry's own structure bypasses the layer.
TEST_F(ProviderRoute, AddressConversionsGoThroughTheLayerWithItsChainEntry) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(0x7F000001);
  address.sin_port = htons(8080);
  char text[32];
  DWORD length = sizeof text;
  ASSERT_EQ(WSAAddressToStringA(reinterpret_cast<sockaddr*>(&address),
                                sizeof address, nullptr, text, &length),
            0)
      << WSAGetLastError();
  EXPECT_STREQ(text, "127.0.0.1:8080");
  std::string log = catalog.log("self");
  EXPECT_EQ(LayerCatalog::count(log, "address-to-string id=" +
                                         std::to_string(kChainOverTcpId) +
                                         " chain=2"),
            1u)
      << log;
  wsadup::detail::BaseObservations base = wsadup::detail::base_observations();
  EXPECT_EQ(base.conversions, 1);
  ASSERT_TRUE(base.conversion_had_info);
  EXPECT_EQ(base.conversion_info.dwCatalogEntryId, 1001u);
  EXPECT_EQ(base.conversion_info.ProtocolChain.ChainLen, BASE_PROTOCOL);

  sockaddr_in read{};
  INT read_length = sizeof read;
  char input[] = "10.0.0.1:80";
  ASSERT_EQ(WSAStringToAddressA(input, AF_INET, nullptr,
                                reinterpret_cast<sockaddr*>(&read),
                                &read_length),
            0)
      << WSAGetLastError();
  EXPECT_EQ(read.sin_addr.s_addr, htonl(0x0A000001));
  EXPECT_EQ(read.sin_port, htons(80));
  log = catalog.log("self");
  EXPECT_EQ(LayerCatalog::count(log, "string-to-address id=" +
                                         std::to_string(kChainOverTcpId) +
                                         " chain=2"),
            1u)
      << log;
  base = wsadup::detail::base_observations();
  EXPECT_EQ(base.conversions, 2);
  EXPECT_EQ(base.conversion_info.dwCatalogEntryId, 1001u);

  // Named by the base entry's own structure: the base alone.
  WSAPROTOCOL_INFOW tcp = base_tcp_entry();
  WCHAR wide[32];
  length = 32;
  ASSERT_EQ(WSAAddressToStringW(reinterpret_cast<sockaddr*>(&address),
                                sizeof address, &tcp, wide, &length),
            0);
  EXPECT_EQ(LayerCatalog::count(catalog.log("self"), "address-to-string"), 1u);
  // NULL pointers are refused before any provider sees the call.
  size_t calls = LayerCatalog::count(catalog.log("self"), "-to-");
  EXPECT_EQ(WSAAddressToStringA(nullptr, sizeof address, nullptr, text,
                                &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(WSAStringToAddressA(nullptr, AF_INET, nullptr,
                                reinterpret_cast<sockaddr*>(&read),
                                &read_length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(WSAStringToAddressA(input, AF_INET, nullptr, nullptr,
                                &read_length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(LayerCatalog::count(catalog.log("self"), "-to-"), calls);
  // A short buffer through the chain: WSAEFAULT and the length needed.
  length = 2;
  EXPECT_EQ(WSAAddressToStringA(reinterpret_cast<sockaddr*>(&address),
                                sizeof address, nullptr, text, &length),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  EXPECT_EQ(length, 15u);
}

TEST_F(ProviderDuplicate, TokenThroughTheLayerImportsOnceInATargetWithIt) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  catalog.log_to("peer");
  std::unique_ptr<Peer> peer = Peer::start();
  catalog.log_to("self");
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(wsadup::detail::owner_of(pair.client), kChainOverTcpId);

  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.client, peer->pid(), &info), 0)
      << WSAGetLastError();
  // The layer saw the duplicate and called the base with its socket.
  std::string log = catalog.log("self");
  EXPECT_EQ(LayerCatalog::count(
                log, "duplicate s=" + std::to_string(pair.client) + " pid=" +
                         std::to_string(peer->pid())),
            1u)
      << log;
  EXPECT_EQ(wsadup::detail::base_observations().duplicates, 1);
  // The token names the layer's entry and chain, and carries the base's
  // dwProviderReserved.
  EXPECT_EQ(info.dwCatalogEntryId, kChainOverTcpId);
  EXPECT_EQ(info.ProtocolChain.ChainLen, 2);
  EXPECT_EQ(info.ProtocolChain.ChainEntries[0], kLayeredId);
  ASSERT_NE(info.dwProviderReserved, 0u);
  std::string reserved = "reserved=" + std::to_string(info.dwProviderReserved);
  EXPECT_EQ(LayerCatalog::count(log, "duplicate-returned " + reserved), 1u)
      << log;
  // It survives the text form.
  char text[WSADUP_TOKEN_TEXT_SIZE];
  ASSERT_EQ(wsadup_token_to_text(&info, sizeof(info), text), 0);
  WSAPROTOCOL_INFOA back;
  ASSERT_EQ(wsadup_token_from_text(text, &back, sizeof(back)), 0);

  // The target's layer sees the same reserved value, and the base imports.
  ASSERT_EQ(peer->call("import A", token_bytes(back)), "ok 0");
  std::string peer_log = catalog.log("peer");
  EXPECT_EQ(LayerCatalog::count(peer_log, "socket id=" +
                                              std::to_string(kChainOverTcpId) +
                                              " chain=2 " + reserved),
            2u - 1u)
      << peer_log;
  EXPECT_TRUE(peer_sends_through(*peer, 0, pair.server, "through"));
  EXPECT_TRUE(sends_through(pair.client, pair.server, "source"));
  // A token works once, through the layer too.
  EXPECT_EQ(peer->call("import A", token_bytes(back)), "err 10022");
  EXPECT_EQ(peer->finish(), 0);
  closesocket(pair.client);
  closesocket(pair.server);
}

TEST_F(ProviderDuplicate, LayerFailingTheImportKeepsTheTokenForARetry) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  catalog.log_to("peer");
  setenv("COUNTING_LAYER_FAIL_SOCKET", "10055", 1);
  std::unique_ptr<Peer> peer = Peer::start();
  unsetenv("COUNTING_LAYER_FAIL_SOCKET");
  catalog.log_to("self");
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::string token = duplicate_for(pair.client, peer->pid());
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(peer->call("import A", token), "err 10055");
  EXPECT_EQ(peer->call("import A", token), "ok 0");
  EXPECT_TRUE(peer_sends_through(*peer, 0, pair.server, "retried"));
  EXPECT_EQ(peer->finish(), 0);
  closesocket(pair.client);
  closesocket(pair.server);
}

TEST_F(ProviderDuplicate, TargetWithoutTheLayerRefusesTheToken) {
  std::unique_ptr<Peer> peer = Peer::start();  // before the catalog exists
  ASSERT_TRUE(peer);
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  std::string token = duplicate_for(pair.client, peer->pid());
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(peer->call("import A", token), "err 10022");
  EXPECT_EQ(peer->finish(), 0);
  closesocket(pair.client);
  closesocket(pair.server);
}

TEST_F(ProviderDuplicate, LayerErrorIsReportedAndZeroBecomesSyscallFailure) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  setenv("COUNTING_LAYER_FAIL_DUPLICATE", "10022", 1);
  EXPECT_EQ(WSADuplicateSocketA(pair.client, current_pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  setenv("COUNTING_LAYER_FAIL_DUPLICATE", "0", 1);
  EXPECT_EQ(WSADuplicateSocketA(pair.client, current_pid(), &info),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSASYSCALLFAILURE);
  unsetenv("COUNTING_LAYER_FAIL_DUPLICATE");
  // Nothing reached the base; the source keeps its socket.
  EXPECT_EQ(wsadup::detail::base_observations().duplicates, 0);
  EXPECT_TRUE(sends_through(pair.client, pair.server, "kept"));
  // The base's own refusals come back through the layer unchanged.
  EXPECT_EQ(WSADuplicateSocketA(pair.client, 0, &info), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  closesocket(pair.client);
  closesocket(pair.server);
}

TEST_F(ProviderDuplicate, IfsLayerWithoutDuplicateHandsTheBaseEntryOn) {
  setenv("COUNTING_LAYER_PASSTHROUGH_DUPLICATE", "1", 1);
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  catalog.log_to("peer");
  std::unique_ptr<Peer> peer = Peer::start();
  catalog.log_to("self");
  ASSERT_TRUE(peer);
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.client, peer->pid(), &info), 0);
  EXPECT_EQ(info.dwCatalogEntryId, 1001u);
  EXPECT_EQ(info.ProtocolChain.ChainLen, BASE_PROTOCOL);
  ASSERT_EQ(peer->call("import A", token_bytes(info)), "ok 0");
  // The target's socket never reached its layer.
  EXPECT_EQ(LayerCatalog::count(catalog.log("peer"), "socket "), 0u);
  EXPECT_TRUE(peer_sends_through(*peer, 0, pair.server, "bypass"));
  EXPECT_EQ(peer->finish(), 0);
  unsetenv("COUNTING_LAYER_PASSTHROUGH_DUPLICATE");
  closesocket(pair.client);
  closesocket(pair.server);
}

int WSPAPI never_started(WORD, LPWSPDATA, LPWSAPROTOCOL_INFOW, WSPUPCALLTABLE,
                         LPWSPPROC_TABLE) {
  return WSASYSNOTREADY;
}

TEST_F(ProviderContext, NonIfsHandleCarriesItsContextAndIfsHandlesHaveNone) {
  Session session;
  ASSERT_TRUE(session.ok());
  DWORD chain = 0;
  install_function_layer(never_started, guid(20), guid(21), &chain);
  int error = 0;
  SOCKET handle = WPUCreateSocketHandle(chain, 0x1234, &error);
  ASSERT_NE(handle, INVALID_SOCKET);
  DWORD_PTR context = 0;
  ASSERT_EQ(WPUQuerySocketHandleContext(handle, &context, &error), 0);
  EXPECT_EQ(context, 0x1234u);
  EXPECT_EQ(WPUCloseSocketHandle(handle, &error), 0);

  SOCKET plain = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                            FROM_PROTOCOL_INFO, nullptr, 0, 0);
  EXPECT_EQ(plain, INVALID_SOCKET);
  WSAPROTOCOL_INFOW tcp = base_tcp_entry();
  plain = WSASocketW(0, 0, 0, &tcp, 0, 0);
  ASSERT_NE(plain, INVALID_SOCKET);
  EXPECT_EQ(WPUModifyIFSHandle(chain, plain, &error), plain);
  EXPECT_EQ(WPUQuerySocketHandleContext(plain, &context, &error),
            SOCKET_ERROR);
  EXPECT_EQ(error, WSAENOTSOCK);
  EXPECT_EQ(WPUModifyIFSHandle(1001, plain, &error), plain);

  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  EXPECT_EQ(WPUModifyIFSHandle(chain, pipe_ends[0], &error), INVALID_SOCKET);
  EXPECT_EQ(error, WSAEINVAL);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  EXPECT_EQ(closesocket(plain), 0);
}

// ------------------------------------------------------- notification --

class ProviderNotify : public ConformanceTest {};

// Long enough for an event that should not come to have come.
constexpr DWORD kQuietMs = 300;

// Check 15: a layered socket's WSAEventSelect reaches the layer's
// WSPEventSelect and then the base, which registers the descriptor it is
// given: the socket's one registration. A process without the layer (here
// the peer, which imports a token the IFS layer left naming the base entry)
// registering the same socket replaces it, as a second registrant anywhere
// does.
TEST_F(ProviderNotify, EventSelectThroughTheLayerIsTheSocketsOneRegistration) {
  std::unique_ptr<Peer> peer = Peer::start();  // before the catalog exists
  ASSERT_TRUE(peer);
  setenv("COUNTING_LAYER_PASSTHROUGH_DUPLICATE", "1", 1);
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  ASSERT_EQ(wsadup::detail::owner_of(pair.client), kChainOverTcpId);
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);

  ASSERT_EQ(WSAEventSelect(pair.client, event, FD_READ), 0)
      << WSAGetLastError();
  const std::string s = std::to_string(pair.client);
  EXPECT_EQ(LayerCatalog::count(catalog.log("self"),
                                "event-select s=" + s + " events=1"),
            1u);
  EXPECT_EQ(wsadup::detail::base_observations().event_selects, 1);

  ASSERT_TRUE(send_all(pair.server, "one"));
  // Within the peer's own bound on an idle command loop.
  EXPECT_EQ(
      WSAWaitForMultipleEvents(1, &event, FALSE, kProcessTimeoutMs / 2, FALSE),
      WSA_WAIT_EVENT_0);
  WSANETWORKEVENTS events;
  std::memset(&events, 0xAB, sizeof(events));
  ASSERT_EQ(WSAEnumNetworkEvents(pair.client, event, &events), 0)
      << WSAGetLastError();
  EXPECT_EQ(events.lNetworkEvents, FD_READ);
  EXPECT_EQ(events.iErrorCode[FD_READ_BIT], 0);
  EXPECT_EQ(
      LayerCatalog::count(catalog.log("self"), "enum-network-events s=" + s),
      1u);
  EXPECT_EQ(wsadup::detail::base_observations().enum_network_events, 1);
  // WSARecv re-enables FD_READ (the system's recv would not): the record
  // would otherwise hold it as reported for the next registrant too.
  char buffer[8];
  WSABUF chunk{sizeof(buffer), buffer};
  DWORD received = 0, flags = 0;
  ASSERT_EQ(
      WSARecv(pair.client, &chunk, 1, &received, &flags, nullptr, nullptr), 0)
      << WSAGetLastError();
  EXPECT_EQ(received, 3u);

  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.client, peer->pid(), &info), 0);
  ASSERT_EQ(info.dwCatalogEntryId, 1001u);
  ASSERT_EQ(peer->call("import A", token_bytes(info)), "ok 0");
  ASSERT_EQ(peer->call("event_select 0 " + std::to_string(FD_READ)), "ok");
  ASSERT_TRUE(send_all(pair.server, "two"));
  // The registration made through the layer is no longer in force: this
  // process's event stays unset for the data, and the peer's is set.
  EXPECT_EQ(WSAWaitForMultipleEvents(1, &event, FALSE, kQuietMs, FALSE),
            static_cast<DWORD>(WSA_WAIT_TIMEOUT));
  // Shorter than the call's own bound, so that a timeout is answered.
  EXPECT_EQ(
      peer->call("event_wait " + std::to_string(kProcessTimeoutMs / 2)),
      "ok signalled");
  EXPECT_EQ(peer->call("enum_events 0").compare(0, 5, "ok 1 "), 0);

  EXPECT_EQ(peer->call("event_close"), "ok");
  EXPECT_EQ(peer->finish(), 0);
  unsetenv("COUNTING_LAYER_PASSTHROUGH_DUPLICATE");
  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(pair.client);
  closesocket(pair.server);
}

TEST_F(ProviderNotify, LayerErrorsComeBackAndZeroBecomesSyscallFailure) {
  LayerCatalog catalog;
  Session session;
  ASSERT_TRUE(session.ok());
  TcpPair pair;
  ASSERT_TRUE(make_tcp_pair(AF_INET, &pair));
  WSAEVENT event = WSACreateEvent();
  ASSERT_NE(event, WSA_INVALID_EVENT);
  WSANETWORKEVENTS events;

  setenv("COUNTING_LAYER_FAIL_EVENT_SELECT", "10055", 1);
  EXPECT_EQ(WSAEventSelect(pair.client, event, FD_READ), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  EXPECT_EQ(WSAEnumNetworkEvents(pair.client, event, &events), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOBUFS);
  setenv("COUNTING_LAYER_FAIL_EVENT_SELECT", "0", 1);
  EXPECT_EQ(WSAEventSelect(pair.client, event, FD_READ), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSASYSCALLFAILURE);
  EXPECT_EQ(WSAEnumNetworkEvents(pair.client, event, &events), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSASYSCALLFAILURE);
  unsetenv("COUNTING_LAYER_FAIL_EVENT_SELECT");
  EXPECT_EQ(wsadup::detail::base_observations().event_selects, 0);
  EXPECT_EQ(wsadup::detail::base_observations().enum_network_events, 0);

  // The base's own refusals come back through the layer unchanged.
  EXPECT_EQ(WSAEventSelect(pair.client, event, 1L << 20), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(WSAEnumNetworkEvents(pair.client, event, nullptr), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  std::string log = catalog.log("self");
  EXPECT_EQ(LayerCatalog::count(log, "event-select "), 3u) << log;
  EXPECT_EQ(LayerCatalog::count(log, "enum-network-events "), 3u) << log;
  EXPECT_EQ(wsadup::detail::base_observations().event_selects, 1);
  EXPECT_EQ(wsadup::detail::base_observations().enum_network_events, 1);

  // What is not a socket is refused before any provider, and a socket the
  // base owns (the accepted one) never reaches the layer.
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  EXPECT_EQ(WSAEventSelect(pipe_ends[0], event, FD_READ), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAENOTSOCK);
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  ASSERT_EQ(wsadup::detail::owner_of(pair.server), 0u);
  EXPECT_EQ(WSAEventSelect(pair.server, event, FD_READ), 0);
  EXPECT_EQ(WSAEventSelect(pair.server, nullptr, 0), 0);
  EXPECT_EQ(LayerCatalog::count(catalog.log("self"), "event-select "), 3u);
  EXPECT_EQ(wsadup::detail::base_observations().event_selects, 1);

  EXPECT_TRUE(WSACloseEvent(event));
  closesocket(pair.client);
  closesocket(pair.server);
}

// ------------------------------------------------------- catalog file --

// A private directory (mode 0700, ours) for catalog files and the shared
// objects they name; WSADUP_PROVIDER_CATALOG names the one in use.
class CatalogDirectory {
 public:
  CatalogDirectory() {
    char pattern[] = "/tmp/wsadup-catalog-XXXXXX";
    directory_ = mkdtemp(pattern);
  }
  ~CatalogDirectory() {
    unsetenv("WSADUP_PROVIDER_CATALOG");
    std::string command = "rm -rf '" + directory_ + "'";
    if (std::system(command.c_str()) != 0) {
      ADD_FAILURE() << "could not remove " << directory_;
    }
  }
  const std::string& directory() const { return directory_; }
  std::string path(const std::string& name) const {
    return directory_ + "/" + name;
  }
  std::string write(const std::string& name, const std::string& text,
                    mode_t mode = 0600) const {
    std::ofstream file(path(name), std::ios::binary);
    file << text;
    file.close();
    chmod(path(name).c_str(), mode);
    return path(name);
  }
  std::string copy(const std::string& from, const std::string& name,
                   mode_t mode) const {
    std::ifstream source(from, std::ios::binary);
    std::stringstream bytes;
    bytes << source.rdbuf();
    return write(name, bytes.str(), mode);
  }
  void use(const std::string& catalog) const {
    setenv("WSADUP_PROVIDER_CATALOG", catalog.c_str(), 1);
  }

 private:
  std::string directory_;
};

// The GUIDs of catalog line n: {6a6f00nn-0000-4000-8000-00000000000k},
// k 1 for the layered entry and 2 for its chains.
std::string line_guid(unsigned n, unsigned k) {
  char text[64];
  std::snprintf(text, sizeof(text), "{6a6f%04x-0000-4000-8000-%012x}", n, k);
  return text;
}
bool has_line_guid(const WSAPROTOCOL_INFOW& entry, unsigned n, unsigned k) {
  const GUID& id = entry.ProviderId;
  const uint8_t tail[8] = {0x80, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(k)};
  return id.Data1 == (0x6a6f0000u | n) && id.Data2 == 0 && id.Data3 == 0x4000 &&
         std::memcmp(id.Data4, tail, 8) == 0;
}
std::string layer_line(unsigned n, const std::string& path,
                       const std::string& ids, const std::string& name) {
  return "layer " + line_guid(n, 1) + " " + line_guid(n, 2) + " " + path + " " +
         ids + " " + name + "\n";
}
std::string counting_layer_line(unsigned n = 1) {
  return layer_line(n, WSADUP_TEST_COUNTING_LAYER, "1001,1002",
                    "Counting layer");
}

// Only the built-in entries are in the catalog.
::testing::AssertionResult only_builtin_entries() {
  auto entries = all_entries();
  for (const auto& entry : entries) {
    if (!wsadup::detail::is_builtin_entry(entry.dwCatalogEntryId)) {
      return ::testing::AssertionFailure()
             << "entry " << entry.dwCatalogEntryId << " is installed";
    }
  }
  if (entries.size() != 5) {
    return ::testing::AssertionFailure() << entries.size() << " entries";
  }
  return ::testing::AssertionSuccess();
}

// The catalog has the entries counting_layer_line() installs.
bool counting_layer_installed() {
  auto entries = all_entries();
  return entries.size() == 8 && entry_with_id(entries, kLayeredId) != nullptr &&
         entry_with_id(entries, kChainOverUdpId) != nullptr;
}

// A socket of the base's TCP/IPv4 entry, by its structure (which no layer
// sees), and a connected pair of them.
SOCKET base_entry_socket() {
  WSAPROTOCOL_INFOW tcp = base_tcp_entry();
  return WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                    &tcp, 0, 0);
}
bool base_entry_pair(TcpPair* pair) {
  SOCKET listener = base_entry_socket();
  if (listener == INVALID_SOCKET) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bool ok = bind(listener, reinterpret_cast<sockaddr*>(&address),
                 sizeof(address)) == 0 &&
            listen(listener, 1) == 0 &&
            getsockname(listener, reinterpret_cast<sockaddr*>(&address),
                        &length) == 0;
  pair->client = ok ? base_entry_socket() : INVALID_SOCKET;
  // Loopback: the connection is complete when connect returns.
  ok = pair->client != INVALID_SOCKET &&
       connect(pair->client, reinterpret_cast<sockaddr*>(&address),
               sizeof(address)) == 0;
  if (ok) pair->server = accept(listener, nullptr, nullptr);
  closesocket(listener);
  return ok && pair->server != INVALID_SOCKET;
}

// What a process without the layers still does: sockets by triplet reach
// the base without any provider's table, and a handoff works.
::testing::AssertionResult base_works_alone() {
  SOCKET s = WSASocketA(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0);
  if (s == INVALID_SOCKET) {
    return ::testing::AssertionFailure() << "socket: " << WSAGetLastError();
  }
  DWORD owner = wsadup::detail::owner_of(s);
  closesocket(s);
  if (owner != 0) return ::testing::AssertionFailure() << "owner " << owner;
  if (wsadup::detail::base_observations().sockets != 0) {
    return ::testing::AssertionFailure() << "went through a provider table";
  }
  if (!handoff_to_self_works()) {
    return ::testing::AssertionFailure() << "the handoff failed";
  }
  return ::testing::AssertionSuccess();
}

class ProviderCatalogFile : public ConformanceTest {};

TEST_F(ProviderCatalogFile, CatalogOthersMayWriteIsIgnored) {
  CatalogDirectory files;
  std::string catalog = files.write("catalog", counting_layer_line());
  files.use(catalog);
  for (mode_t mode : {0620, 0602, 0666}) {
    chmod(catalog.c_str(), mode);
    Session session;
    ASSERT_TRUE(session.ok());
    EXPECT_TRUE(only_builtin_entries()) << "mode " << std::oct << mode;
    EXPECT_TRUE(base_works_alone()) << "mode " << std::oct << mode;
  }
  chmod(catalog.c_str(), 0600);
  for (mode_t mode : {0770, 0707}) {
    chmod(files.directory().c_str(), mode);
    Session session;
    ASSERT_TRUE(session.ok());
    EXPECT_TRUE(only_builtin_entries()) << "directory " << std::oct << mode;
  }
  chmod(files.directory().c_str(), 0700);
  // The same file, written by nobody else, is read.
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(counting_layer_installed());
}

TEST_F(ProviderCatalogFile, SymbolicLinkToACatalogIsIgnored) {
  CatalogDirectory files;
  std::string catalog = files.write("catalog", counting_layer_line());
  ASSERT_EQ(symlink(catalog.c_str(), files.path("link").c_str()), 0);
  files.use(files.path("link"));
  {
    Session session;
    ASSERT_TRUE(session.ok());
    EXPECT_TRUE(only_builtin_entries());
    EXPECT_TRUE(base_works_alone());
  }
  files.use(catalog);
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(counting_layer_installed());
}

TEST_F(ProviderCatalogFile, CatalogAnotherUserOwnsIsIgnored) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "giving a file to another user needs root";
  }
  CatalogDirectory files;
  std::string catalog = files.write("catalog", counting_layer_line());
  files.use(catalog);
  ASSERT_EQ(chown(catalog.c_str(), 65534, 65534), 0);
  {
    Session session;
    ASSERT_TRUE(session.ok());
    EXPECT_TRUE(only_builtin_entries()) << "file";
    EXPECT_TRUE(base_works_alone());
  }
  ASSERT_EQ(chown(catalog.c_str(), 0, 0), 0);
  ASSERT_EQ(chown(files.directory().c_str(), 65534, 65534), 0);
  {
    Session session;
    ASSERT_TRUE(session.ok());
    EXPECT_TRUE(only_builtin_entries()) << "directory";
  }
  ASSERT_EQ(chown(files.directory().c_str(), 0, 0), 0);
  Session session;
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(counting_layer_installed());
}

// Each bad line is skipped alone: it installs nothing and takes no id, and
// the good lines around it install as if it were not there.
TEST_F(ProviderCatalogFile, BadLinesAreSkippedAndTakeNoIds) {
  CatalogDirectory files;
  const std::string layer = WSADUP_TEST_COUNTING_LAYER;
  std::string writable = files.copy(layer, "writable.so", 0775);
  std::string linked = files.path("linked.so");
  ASSERT_EQ(symlink(layer.c_str(), linked.c_str()), 0);
  std::string text = "# bad lines, each for a reason of its own\n";
  text += layer_line(1, files.path("missing.so"), "1001", "Missing");
  text += layer_line(2, writable, "1001", "Writable");
  text += layer_line(3, linked, "1001", "Linked");
  if (geteuid() == 0) {
    std::string foreign = files.copy(layer, "foreign.so", 0755);
    EXPECT_EQ(chown(foreign.c_str(), 65534, 65534), 0);
    text += layer_line(4, foreign, "1001", "Foreign");
  }
  text += layer_line(5, "counting_layer.so", "1001", "Relative");
  text += "this is not a catalog line\n";
  text += "layer {not-a-guid} " + line_guid(6, 2) + " " + layer +
          " 1001 Bad GUID\n";
  text += layer_line(7, layer, "1001", "");  // no name
  text += layer_line(8, layer, "4242", "No such entry");
  text += std::string("layer \x01\xff\xfe garbage\n");
  text += counting_layer_line(10);  // 1008, chains 1009 and 1010
  text += layer_line(11, layer, "1008", "Over a layered entry");
  text += layer_line(12, layer, "1005", "Second");  // 1011, chain 1012
  files.use(files.write("catalog", text));

  Session session;
  ASSERT_TRUE(session.ok());
  auto entries = all_entries();
  EXPECT_EQ(entries.size(), 10u);
  for (const auto& entry : entries) {
    DWORD id = entry.dwCatalogEntryId;
    if (wsadup::detail::is_builtin_entry(id)) continue;
    bool first = id >= 1008 && id <= 1010;
    bool second = id == 1011 || id == 1012;
    EXPECT_TRUE(first || second) << id;
    unsigned n = first ? 10 : 12;
    unsigned k = id == 1008 || id == 1011 ? 1 : 2;
    EXPECT_TRUE(has_line_guid(entry, n, k)) << id;
  }
  // The base entries reach the base directly, and a handoff works.
  SOCKET direct = base_entry_socket();
  ASSERT_NE(direct, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_EQ(wsadup::detail::owner_of(direct), 0u);
  EXPECT_EQ(closesocket(direct), 0);
  EXPECT_TRUE(handoff_to_self_works());
}

// A shared object that passes the checks but does not load, or loads
// without WSPStartup, is installed: the sockets routed to it fail with
// WSAEPROVIDERFAILEDINIT, and the base's own entries still work.
TEST_F(ProviderCatalogFile, LayerThatCannotStartFailsItsSocketsOnly) {
  CatalogDirectory files;
  std::string garbage =
      files.write("garbage.so", "not a shared object\n", 0755);
  std::string text = layer_line(1, garbage, "1001", "Garbage");  // 1008, 1009
  text += layer_line(2, WSADUP_TEST_NO_STARTUP_LAYER, "1002",
                     "No WSPStartup");  // 1010, 1011
  files.use(files.write("catalog", text));
  Session session;
  ASSERT_TRUE(session.ok());
  auto entries = all_entries();
  EXPECT_EQ(entries.size(), 9u);
  ASSERT_NE(entry_with_id(entries, 1009), nullptr);
  ASSERT_NE(entry_with_id(entries, 1011), nullptr);
  for (int attempt = 0; attempt < 2; ++attempt) {
    EXPECT_EQ(WSASocketA(AF_INET, SOCK_STREAM, 0, nullptr, 0, 0),
              INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEPROVIDERFAILEDINIT);
    EXPECT_EQ(WSASocketA(AF_INET, SOCK_DGRAM, 0, nullptr, 0, 0),
              INVALID_SOCKET);
    EXPECT_EQ(WSAGetLastError(), WSAEPROVIDERFAILEDINIT);
  }
  TcpPair pair;
  ASSERT_TRUE(base_entry_pair(&pair)) << WSAGetLastError();
  WSAPROTOCOL_INFOA info;
  ASSERT_EQ(WSADuplicateSocketA(pair.server, current_pid(), &info), 0);
  EXPECT_EQ(info.dwCatalogEntryId, 1001u);
  SOCKET imported = import_token(&info);
  ASSERT_NE(imported, INVALID_SOCKET) << WSAGetLastError();
  EXPECT_TRUE(sends_through(imported, pair.client, "base"));
  closesocket(imported);
  closesocket(pair.client);
  closesocket(pair.server);
}

// Each entry as one line: id, chain, provider, name.
std::string describe_catalog() {
  std::string text;
  for (const auto& entry : all_entries()) {
    char line[128];
    std::snprintf(line, sizeof(line), "%u %d", entry.dwCatalogEntryId,
                  entry.ProtocolChain.ChainLen);
    text += line;
    for (int i = 0; i < entry.ProtocolChain.ChainLen; ++i) {
      text += (i == 0 ? " [" : ",") +
              std::to_string(entry.ProtocolChain.ChainEntries[i]);
    }
    if (entry.ProtocolChain.ChainLen > 0) text += "]";
    const GUID& id = entry.ProviderId;
    std::snprintf(line, sizeof(line), " %08x-%04x-%04x-", id.Data1, id.Data2,
                  id.Data3);
    text += line;
    for (uint8_t byte : id.Data4) {
      std::snprintf(line, sizeof(line), "%02x", byte);
      text += line;
    }
    text += " ";
    for (size_t i = 0; i < WSAPROTOCOL_LEN && entry.szProtocol[i] != 0; ++i) {
      text += static_cast<char>(entry.szProtocol[i]);
    }
    text += "\n";
  }
  return text;
}

// Starts, reads the catalog file its environment names, reports the
// catalog as describe_catalog() writes it, and cleans up.
WSADUP_TEST_HELPER(report_catalog) {
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 2;
  std::string text = describe_catalog();
  WSACleanup();
  return helper_write_frame(text) ? 0 : 2;
}

TEST_F(ProviderCatalog, IdsAndChainsAreTheSameInTwoProcessesReadingOneFile) {
  CatalogDirectory files;
  std::string text = counting_layer_line(1);  // 1008; chains 1009, 1010
  text += layer_line(2, files.path("missing.so"), "1001", "Missing");
  // Over the first layer's TCP chain and over TCP/IPv6: 1011; 1012, 1013.
  text += layer_line(3, WSADUP_TEST_COUNTING_LAYER, "1009,1004", "Second");
  files.use(files.write("catalog", text));
  Session session;
  ASSERT_TRUE(session.ok());
  std::string here = describe_catalog();
  EXPECT_EQ(LayerCatalog::count(here, "\n"), 11u) << here;
  EXPECT_EQ(LayerCatalog::count(here, "1012 3 [1011,1008,1001] "), 1u) << here;

  std::unique_ptr<ChildProcess> child =
      ChildProcess::spawn("report_catalog", {});
  ASSERT_TRUE(child);
  std::string there;
  ASSERT_TRUE(read_frame(*child, &there));
  EXPECT_EQ(child->wait(kProcessTimeoutMs), 0);
  EXPECT_EQ(there, here);
}

}  // namespace
}  // namespace wsadup_test
