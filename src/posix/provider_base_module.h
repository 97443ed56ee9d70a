/*
 * What the engine hands the base provider module when it binds it
 * (provider_base.cc, provider_base_module.c): the base's WSPStartup, and the
 * catalog calls and upcalls a layered provider imports by name. C, shared
 * by the module and the engine.
 */
#ifndef WSADUP_SRC_POSIX_PROVIDER_BASE_MODULE_H
#define WSADUP_SRC_POSIX_PROVIDER_BASE_MODULE_H

#include "wsadup/ws2spi.h"

typedef struct wsadup_base_module_binding {
  LPWSPSTARTUP base_startup;
  LPWSCENUMPROTOCOLS enum_protocols;
  LPWSCGETPROVIDERPATH get_provider_path;
  LPWSCINSTALLPROVIDER install_provider;
  LPWSCDEINSTALLPROVIDER deinstall_provider;
  WSPUPCALLTABLE upcalls;
} wsadup_base_module_binding;

#endif /* WSADUP_SRC_POSIX_PROVIDER_BASE_MODULE_H */
