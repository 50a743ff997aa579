#include "io/safetensors.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

namespace kite {

namespace {

bool parse_dtype(const std::string& s, DType& out) {
    static const std::pair<const char*, DType> kNames[] = {
        {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"I32", DType::kI32},
        {"I64", DType::kI64}, {"U8", DType::kU8},   {"I8", DType::kI8},
    };
    for (const auto& [n, t] : kNames) {
        if (s == n) {
            out = t;
            return true;
        }
    }
    return false;
}

// The 8-byte little-endian header length that opens every safetensors file.
uint64_t header_length(const uint8_t* data) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    return n;
}

}  // namespace

Result<std::map<std::string, SafetensorsEntry>> parse_safetensors_header(const uint8_t* data, size_t size,
                                                                           const std::string& name) {
    if (size < 8) return data_loss(name + ": file is " + std::to_string(size) + " bytes, too short for a safetensors header");
    const uint64_t header_len = header_length(data);
    if (header_len > size - 8)
        return data_loss(name + ": header length " + std::to_string(header_len) + " exceeds the file size " +
                         std::to_string(size) + " (truncated file?)");
    if (header_len > (100u << 20)) return data_loss(name + ": header length " + std::to_string(header_len) + " over 100 MB");
    const uint64_t data_size = size - 8 - header_len;
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(data + 8, data + 8 + header_len);
    } catch (const nlohmann::json::exception& e) {
        return data_loss(name + ": header is not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!header.is_object()) return data_loss(name + ": header is not a JSON object");

    std::map<std::string, SafetensorsEntry> entries;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& [key, val] : header.items()) {
        if (key == "__metadata__") continue;
        const std::string where = name + ": tensor " + key;
        if (!val.is_object()) return data_loss(where + ": expected an object with dtype, shape, data_offsets");
        const auto dt = val.find("dtype");
        const auto sh = val.find("shape");
        const auto off = val.find("data_offsets");
        if (dt == val.end() || !dt->is_string()) return data_loss(where + ": missing or non-string dtype");
        if (sh == val.end() || !sh->is_array()) return data_loss(where + ": missing or non-array shape");
        if (off == val.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
            !(*off)[1].is_number_unsigned())
            return data_loss(where + ": data_offsets must be [begin, end] unsigned integers");
        SafetensorsEntry e;
        if (!parse_dtype(dt->get<std::string>(), e.dtype))
            return unimplemented(where + ": dtype " + dt->get<std::string>() +
                                 " is not supported (expected F32, F16, BF16, I32, I64, U8 or I8)");
        uint64_t numel = 1;
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned()) return data_loss(where + ": shape entries must be non-negative integers");
            const uint64_t v = d.get<uint64_t>();
            if (v != 0 && numel > (uint64_t(1) << 62) / v) return data_loss(where + ": shape is too large");
            numel *= v;
            e.shape.push_back(static_cast<int64_t>(v));
        }
        e.begin = (*off)[0].get<uint64_t>();
        e.end = (*off)[1].get<uint64_t>();
        if (e.begin > e.end || e.end > data_size)
            return data_loss(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                             "] outside the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
        const uint64_t want = numel * static_cast<uint64_t>(dtype_block_bytes(e.dtype));
        if (e.end - e.begin != want)
            return data_loss(where + ": holds " + std::to_string(e.end - e.begin) + " bytes, expected " +
                             std::to_string(want) + " for " + dtype_name(e.dtype) + " of that shape");
        if (e.end > e.begin) ranges.emplace_back(e.begin, e.end);
        entries.emplace(key, std::move(e));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
        if (ranges[i].first < ranges[i - 1].second) return data_loss(name + ": tensors' byte ranges overlap");
    }
    return entries;
}

Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
    KITE_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
    KITE_ASSIGN_OR_RETURN(auto entries, parse_safetensors_header(file->data(), file->size(), path));
    auto st = std::make_shared<SafetensorsFile>();
    st->data_offset_ = 8 + header_length(file->data());
    st->entries_ = std::move(entries);
    st->file_ = std::move(file);
    return st;
}

Result<Tensor> SafetensorsFile::get(const std::string& tensor) const {
    auto it = entries_.find(tensor);
    if (it == entries_.end()) return not_found(path() + ": no tensor named " + tensor);
    const SafetensorsEntry& e = it->second;
    void* p = const_cast<uint8_t*>(file_->data()) + data_offset_ + e.begin;
    return Tensor::view(p, e.dtype, e.shape, file_);
}

}  // namespace kite
