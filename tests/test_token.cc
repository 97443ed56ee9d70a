// The token's layout and text form, and the errno -> Winsock table.
#include <cerrno>
#include <cstring>

#include "support.h"

namespace wsadup_test {
namespace {

extern "C" int wsadup_c_api_round_trip(void);

TEST(PublicHeader, StructuresHaveWindowsX64Layout) {
  EXPECT_EQ(sizeof(WSAPROTOCOL_INFOA), 372u);
  EXPECT_EQ(sizeof(WSAPROTOCOL_INFOW), 628u);
  EXPECT_EQ(offsetof(WSAPROTOCOL_INFOA, szProtocol), 116u);
  EXPECT_EQ(offsetof(WSAPROTOCOL_INFOW, dwProviderReserved), 112u);
  EXPECT_EQ(sizeof(GUID), 16u);
  EXPECT_EQ(WSAPROTOCOL_LEN, 255);
  EXPECT_EQ(MAX_PROTOCOL_CHAIN, 7);
  EXPECT_EQ(FROM_PROTOCOL_INFO, -1);
  EXPECT_EQ(MAKEWORD(2, 2), 0x0202);
  EXPECT_EQ(LOBYTE(MAKEWORD(1, 2)), 1);
  EXPECT_EQ(HIBYTE(MAKEWORD(1, 2)), 2);
}

TEST(PublicHeader, WorksFromC99) { EXPECT_EQ(wsadup_c_api_round_trip(), 0); }

TEST(PublicHeader, ErrorCodesHaveWindowsValues) {
  EXPECT_EQ(WSANOTINITIALISED, 10093);
  EXPECT_EQ(WSAENOTSOCK, 10038);
  EXPECT_EQ(WSAEFAULT, 10014);
  EXPECT_EQ(WSAEINVAL, 10022);
  EXPECT_EQ(WSAEMFILE, 10024);
  EXPECT_EQ(WSAENOBUFS, 10055);
  EXPECT_EQ(WSAENETDOWN, 10050);
  EXPECT_EQ(WSAVERNOTSUPPORTED, 10092);
  EXPECT_EQ(WSAEWOULDBLOCK, 10035);
}

TEST(Version, MatchesTheHeader) {
  EXPECT_EQ(wsadup_version(), static_cast<unsigned>(WSADUP_VERSION_HEX));
  EXPECT_STREQ(wsadup_version_string(), WSADUP_VERSION_STRING);
}

TEST(ErrorTable, NamesEveryCodeTheFunctionsReturn) {
  EXPECT_STREQ(wsadup_error_name(WSAEINVAL), "WSAEINVAL");
  EXPECT_STREQ(wsadup_error_name(WSANOTINITIALISED), "WSANOTINITIALISED");
  EXPECT_STREQ(wsadup_error_name(WSAEMFILE), "WSAEMFILE");
  EXPECT_STREQ(wsadup_error_name(123456), "WSAE_UNKNOWN");
}

TEST(ErrorTable, MapsErrnoToTheCodeWindowsReports) {
  EXPECT_EQ(wsadup_translate_errno(0), 0);
  EXPECT_EQ(wsadup_translate_errno(EBADF), WSAENOTSOCK);
  EXPECT_EQ(wsadup_translate_errno(EINVAL), WSAEINVAL);
  EXPECT_EQ(wsadup_translate_errno(EMFILE), WSAEMFILE);
  EXPECT_EQ(wsadup_translate_errno(EAGAIN), WSAEWOULDBLOCK);
  EXPECT_EQ(wsadup_translate_errno(ECONNRESET), WSAECONNRESET);
  EXPECT_EQ(wsadup_translate_errno(ENOBUFS), WSAENOBUFS);
  // Unknown codes still map to something sane.
  EXPECT_EQ(wsadup_translate_errno(987654), WSAEINVAL);
}

TEST(TokenText, RoundTripsBothStructures) {
  WSAPROTOCOL_INFOA a;
  WSAPROTOCOL_INFOW w;
  for (size_t i = 0; i < sizeof(a); ++i) {
    reinterpret_cast<unsigned char*>(&a)[i] = static_cast<unsigned char>(i * 7);
  }
  for (size_t i = 0; i < sizeof(w); ++i) {
    reinterpret_cast<unsigned char*>(&w)[i] = static_cast<unsigned char>(i * 13);
  }
  char text[WSADUP_TOKEN_TEXT_SIZE];
  WSAPROTOCOL_INFOA a2;
  ASSERT_EQ(wsadup_token_to_text(&a, sizeof(a), text), 0);
  ASSERT_EQ(wsadup_token_from_text(text, &a2, sizeof(a2)), 0);
  EXPECT_EQ(std::memcmp(&a, &a2, sizeof(a)), 0);
  WSAPROTOCOL_INFOW w2;
  ASSERT_EQ(wsadup_token_to_text(&w, sizeof(w), text), 0);
  EXPECT_EQ(std::strlen(text), 2 * sizeof(w));
  ASSERT_EQ(wsadup_token_from_text(text, &w2, sizeof(w2)), 0);
  EXPECT_EQ(std::memcmp(&w, &w2, sizeof(w)), 0);
}

TEST(TokenText, RejectsBadTextAndLeavesTheBufferAlone) {
  WSAPROTOCOL_INFOA info;
  std::memset(&info, 0x5a, sizeof(info));
  WSAPROTOCOL_INFOA before = info;
  std::string text(2 * sizeof(info), '0');
  text[100] = 'x';
  EXPECT_EQ(wsadup_token_from_text(text.c_str(), &info, sizeof(info)),
            SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(std::memcmp(&info, &before, sizeof(info)), 0);
  EXPECT_EQ(wsadup_token_from_text("00ff", &info, sizeof(info)), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
  EXPECT_EQ(wsadup_token_from_text(nullptr, &info, sizeof(info)), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEFAULT);
  char out[WSADUP_TOKEN_TEXT_SIZE];
  EXPECT_EQ(wsadup_token_to_text(&info, 100, out), SOCKET_ERROR);
  EXPECT_EQ(WSAGetLastError(), WSAEINVAL);
}

}  // namespace
}  // namespace wsadup_test
