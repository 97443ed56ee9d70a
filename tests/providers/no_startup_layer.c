/*
 * A shared object that a catalog file may name and that loads, but exports
 * no WSPStartup: the provider failing to start, as on Windows a DLL without
 * it is (docs/providers.md, "The catalog file").
 */
__attribute__((visibility("default"))) int not_a_provider(void) { return 0; }
