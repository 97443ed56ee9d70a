#include "wsadup/wsadup.h"

extern "C" unsigned int wsadup_version(void) { return WSADUP_VERSION_HEX; }

extern "C" const char* wsadup_version_string(void) {
  return WSADUP_VERSION_STRING;
}
