// The Windows-style program of compat_check_body.h, compiled as C++17: the
// same text as compat_check.c, so the compatibility headers are proved in
// both languages.
#include "compat_check_body.h"
