// safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw data. Tensors are views into the memory-mapped file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "io/mapped_file.h"

namespace kite {

struct SafetensorsEntry {
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets into the data section
    uint64_t end = 0;
};

// Parses and validates a header against the data section size (no I/O: the fuzz target's entry).
// `name` is used in messages. Rejects overlapping or out-of-range byte ranges, sizes that do not
// match dtype x shape, unknown dtypes, and malformed JSON.
Result<std::map<std::string, SafetensorsEntry>> parse_safetensors_header(const uint8_t* data, size_t size,
                                                                           const std::string& name);

class SafetensorsFile {
public:
    static Result<std::shared_ptr<SafetensorsFile>> open(const std::string& path);
    const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
    bool has(const std::string& tensor) const { return entries_.count(tensor) > 0; }
    Result<Tensor> get(const std::string& tensor) const;
    const std::string& path() const { return file_->path(); }

private:
    std::shared_ptr<MappedFile> file_;
    size_t data_offset_ = 0;
    std::map<std::string, SafetensorsEntry> entries_;
};

}  // namespace kite
