// libFuzzer target: the safetensors header parser must reject any byte string cleanly.
#include <cstddef>
#include <cstdint>

#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto r = kite::parse_safetensors_header(data, size, "fuzz.safetensors");
    (void)r;
    return 0;
}
