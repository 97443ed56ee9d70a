// Nonces with a fixed meaning in the agent and reply targets, shared with
// the seed generator so that seeds can name them.
#ifndef WSADUP_FUZZ_NONCES_H
#define WSADUP_FUZZ_NONCES_H

#include "posix/internal.h"

namespace wsadup_fuzz {

using wsadup::detail::Nonce;

// Agent target: a pending entry for this process, added before each input;
// a pull of it is served once, a commit with status 0 consumes it.
constexpr Nonce kPendingNonce = {0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1,
                                 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1,
                                 0xa1, 0xa1, 0xa1, 0xa1};
// Agent target: a pending entry for another process, kept throughout: no
// connection from this process may pull it.
constexpr Nonce kForeignNonce = {0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2,
                                 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2,
                                 0xb2, 0xb2, 0xb2, 0xb2};
// Agent target: an inbox entry pushed at start-up and kept throughout: a
// push under it again is a replay.
constexpr Nonce kInboxNonce = {0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3,
                               0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3};
// Reply target: the nonce the caller pushes or pulls under.
constexpr Nonce kCallerNonce = {0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4,
                                0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4};

}  // namespace wsadup_fuzz

#endif  // WSADUP_FUZZ_NONCES_H
