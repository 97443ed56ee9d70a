/* wsadup version numbers. Headers only grow: see CONTRIBUTING.md. */
#ifndef WSADUP_VERSION_H
#define WSADUP_VERSION_H

#define WSADUP_VERSION_MAJOR 0
#define WSADUP_VERSION_MINOR 1
#define WSADUP_VERSION_PATCH 0

/* 0xMMmmpp: one byte each for major, minor and patch. */
#define WSADUP_VERSION_HEX                                                    \
  ((WSADUP_VERSION_MAJOR << 16) | (WSADUP_VERSION_MINOR << 8) |              \
   (WSADUP_VERSION_PATCH))

#define WSADUP_STRINGIFY_HELPER(v) #v
#define WSADUP_STRINGIFY(v) WSADUP_STRINGIFY_HELPER(v)
#define WSADUP_VERSION_STRING                                                 \
  WSADUP_STRINGIFY(WSADUP_VERSION_MAJOR) "."                                  \
  WSADUP_STRINGIFY(WSADUP_VERSION_MINOR) "."                                  \
  WSADUP_STRINGIFY(WSADUP_VERSION_PATCH)

#endif /* WSADUP_VERSION_H */
