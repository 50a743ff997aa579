// libFuzzer target for the GGUF reader: any bytes must parse or fail with a Status (never crash,
// hang or over-allocate); a file that parses gets its metadata, JSON view and tensors exercised,
// and small supported tensors are dequantized (tensor data is arbitrary bytes).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/gguf.h"
#include "ops/quant.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto f = kite::GgufFile::parse(data, size, nullptr, "fuzz.gguf");
    if (!f.ok()) return 0;
    (void)f->metadata_json().size();
    for (const auto& [key, value] : f->metadata()) {
        (void)f->get_int(key);
        (void)f->get_float(key);
        (void)f->get_string(key);
        (void)f->get_strings(key);
        (void)value.array_size();
    }
    std::vector<float> buf;
    for (const auto& ti : f->tensors()) {
        auto t = f->tensor(ti.name);
        if (!t.ok() || t->numel() > (1 << 16)) continue;
        if (!kite::dtype_is_quantized(t->dtype()) && t->dtype() != kite::DType::kF16 &&
            t->dtype() != kite::DType::kBF16 && t->dtype() != kite::DType::kF32) {
            continue;
        }
        buf.resize(static_cast<size_t>(t->numel()));
        (void)kite::ops::dequantize(t->dtype(), t->raw(), buf.data(), t->numel());
    }
    return 0;
}
