# Writes the bytes of INPUT (the base provider module) as a C++ source,
# OUTPUT, that defines wsadup::detail::kBaseProviderImage and its size.
file(READ "${INPUT}" image HEX)
string(LENGTH "${image}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${image}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from the base provider module by provider_embed.cmake.
#include <cstddef>
namespace wsadup::detail {
extern const unsigned char kBaseProviderImage[];
extern const size_t kBaseProviderImageSize;
const unsigned char kBaseProviderImage[] = {
${bytes}
};
const size_t kBaseProviderImageSize = ${size};
}  // namespace wsadup::detail
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
